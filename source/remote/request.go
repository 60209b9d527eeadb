package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// first makes the first request, a ranged GET of the first window, and
// learns from it the size and the validator; a response that breaks off
// is resumed as OpenRange resumes.
func (s *Source) first() (*window, error) {
	resp, err := s.do(s.ctx, 0, s.opts.Window)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := s.learnSize(resp); err != nil {
		return nil, err
	}
	s.learnValidator(resp.Header)
	w := &window{data: make([]byte, min(s.size, s.opts.Window))}
	n, err := io.ReadFull(resp.Body, w.data)
	if err == nil {
		return w, nil
	}
	rest := &stream{s: s, ctx: s.ctx, pos: int64(n), end: int64(len(w.data))}
	if err := rest.failed(s.broken(err, int64(n)), n > 0); err != nil {
		return nil, err
	}
	defer rest.Close()
	if _, err := io.ReadFull(rest, w.data[n:]); err != nil {
		return nil, err
	}
	return w, nil
}

// learnSize takes the size from the answer to the first request: a 206, a
// 416, which to bytes=0-N means an empty object, or a 200 that sends an
// object no larger than a window whole.
func (s *Source) learnSize(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if cr.start != 0 || cr.end-cr.start+1 > s.opts.Window {
			return fmt.Errorf("%s: asked for bytes 0-%d, answered %d-%d", s.name, s.opts.Window-1, cr.start, cr.end)
		}
		s.size = cr.total
	case http.StatusOK:
		if resp.ContentLength < 0 || resp.ContentLength > s.opts.Window {
			return s.noRange()
		}
		s.size = resp.ContentLength
	case http.StatusRequestedRangeNotSatisfiable:
		if cr, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && cr.total != 0 {
			return statusError(s.name, resp)
		}
		s.size = 0
	default:
		return statusError(s.name, resp)
	}
	return nil
}

func (s *Source) noRange() error {
	return fmt.Errorf("%s: %w: it answers a ranged GET with the whole object", s.name, ErrNoRange)
}

// learnValidator keeps what tells this version of the object from the
// next, and the precondition that makes the server refuse any other: a
// strong ETag for If-Match, or Last-Modified for If-Unmodified-Since.
func (s *Source) learnValidator(h http.Header) {
	s.etag, s.lastMod = h.Get("ETag"), h.Get("Last-Modified")
	validator := "last-modified:" + s.lastMod
	if s.etag != "" {
		validator = "etag:" + s.etag
	}
	switch {
	case s.etag != "" && !strings.HasPrefix(s.etag, "W/"):
		s.precond = [2]string{"If-Match", s.etag}
	case s.lastMod != "":
		s.precond = [2]string{"If-Unmodified-Since", s.lastMod}
	}
	s.identity = identity(s.url, validator, s.size)
}

// do sends one GET of n bytes at off (request says how), and returns its response,
// whose body counts what it gives and fails with ErrTimeout when nothing
// comes for Options.IdleTimeout.
func (s *Source) do(ctx context.Context, off, n int64) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	idle := fmt.Errorf("%w: nothing received for %v", ErrTimeout, s.opts.IdleTimeout)
	timer := time.AfterFunc(s.opts.IdleTimeout, func() { cancel(idle) })
	req, err := s.request(ctx, off, n)
	if err == nil {
		s.stats.requests.Add(1)
		var resp *http.Response
		if resp, err = s.opts.Client.Do(req); err == nil {
			resp.Body = &body{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, timer: timer, idle: s.opts.IdleTimeout, bytes: &s.stats.bytes}
			return resp, nil
		}
		err = transportError(s.name, idleCause(ctx, err))
	}
	timer.Stop()
	cancel(nil)
	return nil, err
}

// request is the GET of n bytes at off, of the whole object when n < 0,
// with its precondition, signed.
func (s *Source) request(ctx context.Context, off, n int64) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url.String(), nil)
	if err != nil {
		return nil, transportError(s.name, err)
	}
	if n >= 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	if s.precond[0] != "" {
		req.Header.Set(s.precond[0], s.precond[1])
	}
	if s.opts.Sign != nil {
		if err := s.opts.Sign(req); err != nil {
			return nil, fmt.Errorf("%s: signing the request: %w", s.name, err)
		}
	}
	return req, nil
}

// idleCause is the idle timeout when it is what ended the request.
func idleCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && errors.Is(cause, ErrTimeout) {
		return cause
	}
	return err
}

// body is a response body that counts its bytes and cancels its request
// when it stalls.
type body struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	idle   time.Duration
	bytes  *atomic.Int64
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
		b.bytes.Add(int64(n))
	}
	if err != nil && err != io.EOF {
		err = idleCause(b.ctx, err)
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.timer.Stop()
	b.cancel(nil)
	return err
}

// check accepts the answer to a ranged GET of n bytes at off: a 206 of
// exactly those bytes of this version, or a 200 of the whole object when
// that is what was asked.
func (s *Source) check(resp *http.Response, off, n int64) error {
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		cr, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if cr.total != s.size {
			return fmt.Errorf("%s: %w: its size is now %d, not %d", s.name, ErrChanged, cr.total, s.size)
		}
		if cr.start != off || cr.end != off+n-1 {
			return fmt.Errorf("%s: asked for bytes %d-%d, answered %d-%d", s.name, off, off+n-1, cr.start, cr.end)
		}
	case resp.StatusCode == http.StatusOK && off == 0 && n == s.size && resp.ContentLength == s.size:
	case resp.StatusCode == http.StatusOK:
		return s.noRange()
	default:
		return statusError(s.name, resp)
	}
	return s.checkValidator(resp.Header)
}

// checkValidator fails with ErrChanged when a response names another
// version than the first.
func (s *Source) checkValidator(h http.Header) error {
	if etag := h.Get("ETag"); s.etag != "" && etag != "" && etag != s.etag {
		return fmt.Errorf("%s: %w: its ETag is now %s, not %s", s.name, ErrChanged, etag, s.etag)
	}
	if lm := h.Get("Last-Modified"); s.etag == "" && s.lastMod != "" && lm != "" && lm != s.lastMod {
		return fmt.Errorf("%s: %w: it was last modified %s, not %s", s.name, ErrChanged, lm, s.lastMod)
	}
	return nil
}

// broken is the error for a body that ended, or failed, at offset off
// before it gave all it should.
func (s *Source) broken(err error, off int64) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s: reading at offset %d: %w", s.name, off, classify(err))
}

type contentRange struct{ start, end, total int64 }

// parseContentRange parses "bytes START-END/TOTAL" and "bytes */TOTAL",
// whose start and end are then -1.
func parseContentRange(v string) (contentRange, error) {
	bad := fmt.Errorf("invalid Content-Range %q", v)
	spec, ok := strings.CutPrefix(v, "bytes ")
	rng, tot, ok2 := strings.Cut(spec, "/")
	if !ok || !ok2 {
		return contentRange{}, bad
	}
	total, err := strconv.ParseInt(tot, 10, 64)
	if err != nil || total < 0 {
		return contentRange{}, bad
	}
	if rng == "*" {
		return contentRange{-1, -1, total}, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start || end >= total {
		return contentRange{}, bad
	}
	return contentRange{start, end, total}, nil
}
