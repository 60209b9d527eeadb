package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/ocitar/ocitar/source"
)

// Source is a source.Source over an object on a web server or in an
// object store, read by ranged GETs. It is safe for concurrent use.
type Source struct {
	ctx      context.Context
	url      *url.URL // what requests go to, query string included
	name     string
	opts     Options
	size     int64
	etag     string // as the first response gave it
	lastMod  string // compared when there is no ETag
	precond  [2]string
	identity string
	// anonymous: an s3:// location for which no credentials were found.
	anonymous bool

	head    *window // the first window, kept: a whole object when the server ignores Range
	windows windows
	changed atomic.Bool
	stats   counters
}

var _ source.Source = (*Source)(nil)

type counters struct{ requests, bytes, retries, resumes atomic.Int64 }

// Stats counts what a Source did over the network.
type Stats struct {
	Requests int64 // requests sent, retries and resumes included
	Bytes    int64 // bytes of response bodies received
	Retries  int64 // requests sent again after one failed before its body gave a byte
	Resumes  int64 // requests that go on where a response broke off
}

// Open opens the object at location: an http:// or https:// URL, a
// presigned one included, or s3://BUCKET/KEY. It makes one request, a
// ranged GET of the first window, which learns the size and the validator
// of the object. ctx bounds Open and every request that ReadAt makes later,
// so it should live as long as the Source.
func Open(ctx context.Context, location string, opts Options) (*Source, error) {
	s, err := newSource(ctx, location, opts)
	if err != nil {
		return nil, err
	}
	err = s.retry(ctx, func() (err error) {
		s.head, err = s.first()
		return err
	})
	if err != nil {
		return nil, s.credentialsHint(err)
	}
	return s, nil
}

// newSource is the Source of location, which has made no request yet.
func newSource(ctx context.Context, location string, opts Options) (*Source, error) {
	if hasScheme(location, "s3") {
		return newS3(ctx, location, opts)
	}
	u, err := parseHTTP(location)
	if err != nil {
		return nil, err
	}
	return newURL(ctx, u, displayName(u), opts), nil
}

// parseHTTP parses an http:// or https:// URL.
func parseHTTP(location string) (*url.URL, error) {
	u, err := url.Parse(location)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: %w", Redact(location), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: not an http:// or https:// URL with a host", displayName(u))
	}
	return u, nil
}

// newURL is the Source of the object at u, named name in errors.
func newURL(ctx context.Context, u *url.URL, name string, opts Options) *Source {
	opts = opts.withDefaults()
	return &Source{ctx: ctx, url: u, name: name, opts: opts, size: -1, windows: windows{max: opts.Windows}}
}

func (s *Source) Size() int64      { return s.size }
func (s *Source) Identity() string { return s.identity }
func (s *Source) Name() string     { return s.name }

// Stats returns the counts so far.
func (s *Source) Stats() Stats {
	return Stats{
		Requests: s.stats.requests.Load(),
		Bytes:    s.stats.bytes.Load(),
		Retries:  s.stats.retries.Load(),
		Resumes:  s.stats.resumes.Load(),
	}
}

// ReadAt reads from the windows kept, fetching a window from off when none
// holds it; a read of a window or more is one request of exactly what it
// asks. Once the object is found changed, every read fails with ErrChanged.
func (s *Source) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", s.name, off)
	}
	if s.changed.Load() {
		return 0, fmt.Errorf("%s: %w", s.name, ErrChanged)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), s.size-off)
	var n int
	var err error
	if want >= s.opts.Window {
		n, err = s.readDirect(p[:want], off)
	} else {
		n, err = s.readWindows(p[:want], off)
	}
	if err != nil {
		return n, err
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

func (s *Source) readDirect(p []byte, off int64) (int, error) {
	r, err := s.OpenRange(s.ctx, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return io.ReadFull(r, p)
}

func (s *Source) readWindows(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		at := off + int64(n)
		w, err := s.window(at)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], w.data[at-w.off:])
	}
	return n, nil
}

// window returns a window holding off, fetching it unless it is kept or
// another read is fetching it.
func (s *Source) window(off int64) (*window, error) {
	if s.head.contains(off) {
		return s.head, nil
	}
	w, fill := s.windows.get(off, s.plan)
	if fill {
		w.err = s.fill(w)
		if w.err != nil {
			s.windows.drop(w)
		}
		close(w.done)
	}
	<-w.done
	return w, w.err
}

// plan places the window for a read at off: from off, or ending at the
// end of the object, where reads go backwards (the seek table of a zstd).
func (s *Source) plan(off int64) (start, n int64) {
	start = max(0, min(off, s.size-s.opts.Window))
	return start, min(s.opts.Window, s.size-start)
}

func (s *Source) fill(w *window) error {
	r, err := s.OpenRange(s.ctx, w.off, int64(len(w.data)))
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.ReadFull(r, w.data)
	return err
}

// OpenRange streams the n bytes at off with one ranged GET, made before
// it returns. When the connection drops, or stalls for
// Options.IdleTimeout, the stream asks for the rest with a new ranged
// GET, up to Options.Retries times in a row without a byte coming.
func (s *Source) OpenRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	switch {
	case off < 0 || n < 0 || off > s.size-n:
		return nil, fmt.Errorf("%s: range of %d bytes at %d is outside the object of %d bytes", s.name, n, off, s.size)
	case s.changed.Load():
		return nil, fmt.Errorf("%s: %w", s.name, ErrChanged)
	case n == 0:
		return io.NopCloser(bytes.NewReader(nil)), nil
	case off+n <= int64(len(s.head.data)):
		return io.NopCloser(bytes.NewReader(s.head.data[off : off+n])), nil
	}
	r := &stream{s: s, ctx: ctx, pos: off, end: off + n}
	if err := r.connect(); err != nil {
		return nil, err
	}
	return r, nil
}

// retry calls f until it succeeds, fails for good or has failed
// Options.Retries times after the first, waiting between attempts.
func (s *Source) retry(ctx context.Context, f func() error) error {
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || ctx.Err() != nil || !retryable(err) || attempt >= s.opts.Retries {
			return err
		}
		s.stats.retries.Add(1)
		if s.opts.Sleep(ctx, s.opts.backoff(attempt)) != nil {
			return err
		}
	}
}

// note marks the Source changed when err says so, and returns err.
func (s *Source) note(err error) error {
	if errors.Is(err, ErrChanged) {
		s.changed.Store(true)
	}
	return err
}

// Redact is what can be shown of a location, in a log line or an error,
// even one that does not parse: it without userinfo, query string or
// fragment, where passwords and presigned signatures are.
func Redact(location string) string {
	location, _, _ = strings.Cut(location, "?")
	location, _, _ = strings.Cut(location, "#")
	scheme, rest, ok := strings.Cut(location, "://")
	if !ok {
		return location
	}
	authority, path, slash := strings.Cut(rest, "/")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = authority[i+1:]
	}
	if slash {
		path = "/" + path
	}
	return scheme + "://" + authority + path
}

// hasScheme reports whether location starts with scheme://, in any case.
func hasScheme(location, scheme string) bool {
	prefix := scheme + "://"
	return len(location) >= len(prefix) && strings.EqualFold(location[:len(prefix)], prefix)
}

// Check asks the server whether the object is still the one opened, with
// one ranged GET of its first byte under the precondition of every read:
// it fails with ErrChanged, as every read after it, when it is not.
func (s *Source) Check(ctx context.Context) error {
	if s.changed.Load() {
		return fmt.Errorf("%s: %w", s.name, ErrChanged)
	}
	if s.size == 0 {
		return nil
	}
	return s.note(s.retry(ctx, func() error {
		resp, err := s.do(ctx, 0, 1)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return s.check(resp, 0, 1)
	}))
}
