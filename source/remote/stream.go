package remote

import (
	"context"
	"fmt"
	"io"
)

// stream reads the bytes from pos to end with ranged GETs: one, and
// another from where it stopped each time a response breaks off.
type stream struct {
	s        *Source
	ctx      context.Context
	pos, end int64
	body     io.ReadCloser
	got      bool // body gave bytes
	fails    int  // failures since bytes last came
}

// Read fails with ErrChanged once the object is found changed, even in
// the middle of a response, which an object rewritten in place may mix.
func (r *stream) Read(p []byte) (int, error) {
	if r.pos >= r.end {
		return 0, io.EOF
	}
	if r.s.changed.Load() {
		r.closeBody()
		return 0, fmt.Errorf("%s: %w", r.s.name, ErrChanged)
	}
	p = p[:min(int64(len(p)), r.end-r.pos)]
	for {
		if r.body == nil {
			if err := r.connect(); err != nil {
				return 0, err
			}
		}
		n, err := r.body.Read(p)
		r.pos += int64(n)
		if n > 0 {
			r.got, r.fails = true, 0
		}
		if r.pos == r.end {
			r.closeBody()
			return n, nil
		}
		if err == nil && n > 0 {
			return n, nil
		}
		if err == nil {
			continue
		}
		resumed := r.got
		r.closeBody()
		if err := r.failed(r.s.broken(err, r.pos), resumed); err != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// connect starts a response from pos, trying again on failures that may
// pass.
func (r *stream) connect() error {
	for {
		err := r.request()
		if err == nil {
			return nil
		}
		if err := r.failed(err, false); err != nil {
			return err
		}
	}
}

func (r *stream) request() error {
	resp, err := r.s.do(r.ctx, r.pos, r.end-r.pos)
	if err != nil {
		return err
	}
	if err := r.s.check(resp, r.pos, r.end-r.pos); err != nil {
		resp.Body.Close()
		return err
	}
	r.body, r.got = resp.Body, false
	return nil
}

// failed returns err when the stream must give up, and otherwise waits
// before the next attempt and returns nil; resumed says that the response
// that failed had given bytes.
func (r *stream) failed(err error, resumed bool) error {
	err = r.s.note(err)
	if r.ctx.Err() != nil || !retryable(err) || r.fails >= r.s.opts.Retries {
		return err
	}
	if resumed {
		r.s.stats.resumes.Add(1)
	} else {
		r.s.stats.retries.Add(1)
	}
	wait := r.s.opts.backoff(r.fails)
	r.fails++
	if r.s.opts.Sleep(r.ctx, wait) != nil {
		return err
	}
	return nil
}

func (r *stream) closeBody() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// Close ends the stream; reading after it gives io.EOF.
func (r *stream) Close() error {
	r.closeBody()
	r.pos = r.end
	return nil
}
