package source

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Span is a stretch of the uncompressed content of a stream at whose start
// a decoder can enter the stream.
type Span struct {
	Offset int64 // where the span starts in the uncompressed content
	Size   int64 // how many uncompressed bytes it holds
}

// Opener starts a decoder at the start of span i. The decoder may go on
// past the end of the span, into the spans that follow.
type Opener func(i int) (io.ReadCloser, error)

// maxIdle bounds the decoders Spans keeps open between reads: enough for the
// 8 concurrent pulls of a mirror, each reading a blob from start to end.
const maxIdle = 8

// Spans is a Source over the uncompressed content of a compressed stream
// that can be entered at the start of each of its spans. A read starts a
// decoder at the last span that begins at or before it, or goes on with a
// decoder an earlier read left there, so that a blob read in order from
// start to end is decoded once.
type Spans struct {
	name     string
	identity string
	spans    []Span
	open     Opener
	size     int64

	mu   sync.Mutex
	idle []*decoder // most recently used last
}

type decoder struct {
	rc  io.ReadCloser
	pos int64 // uncompressed offset of the next byte rc gives
}

// NewSpans presents the uncompressed content of a stream as a Source,
// named name in errors. spans must be in order, contiguous from offset 0,
// as the format packages check when they read them. identity names the
// content; it usually extends the identity of the compressed Source.
func NewSpans(name, identity string, spans []Span, open Opener) (*Spans, error) {
	var size int64
	for i, sp := range spans {
		if sp.Offset != size || sp.Size < 0 {
			return nil, fmt.Errorf("%s: span %d starts at %d, not at %d", name, i, sp.Offset, size)
		}
		size += sp.Size
	}
	return &Spans{name: name, identity: identity, spans: spans, open: open, size: size}, nil
}

func (s *Spans) Size() int64      { return s.size }
func (s *Spans) Identity() string { return s.identity }
func (s *Spans) Name() string     { return s.name }

// Count is the number of spans, the entry points of the stream.
func (s *Spans) Count() int { return len(s.spans) }

// ReadAt reads uncompressed bytes from off.
func (s *Spans) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", s.name, off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), s.size-off)
	d, err := s.take(off)
	if err != nil {
		return 0, err
	}
	n, err := d.readAt(p[:want], off)
	if err != nil {
		d.rc.Close()
		return n, fmt.Errorf("%s: at uncompressed offset %d: %w", s.name, off, err)
	}
	s.put(d)
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// readAt skips d forward to off, then fills p.
func (d *decoder) readAt(p []byte, off int64) (int, error) {
	if _, err := io.CopyN(io.Discard, d.rc, off-d.pos); err != nil {
		return 0, noEOF(err)
	}
	d.pos = off
	n, err := io.ReadFull(d.rc, p)
	d.pos += int64(n)
	return n, noEOF(err)
}

// noEOF turns the end of a stream that should have gone on into an error.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// take returns an idle decoder that can reach off without going back, or
// not past the start of off's span, or a new one at that start.
func (s *Spans) take(off int64) (*decoder, error) {
	i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i].Offset > off }) - 1
	start := s.spans[i].Offset
	s.mu.Lock()
	best := -1
	for j, d := range s.idle {
		if d.pos <= off && d.pos >= start && (best < 0 || d.pos > s.idle[best].pos) {
			best = j
		}
	}
	if best >= 0 {
		d := s.idle[best]
		s.idle = append(s.idle[:best], s.idle[best+1:]...)
		s.mu.Unlock()
		return d, nil
	}
	s.mu.Unlock()
	rc, err := s.open(i)
	if err != nil {
		return nil, fmt.Errorf("%s: entering the stream at uncompressed offset %d: %w", s.name, start, err)
	}
	return &decoder{rc: rc, pos: start}, nil
}

// put keeps d for a later read, closing the least recently used decoder
// when too many are idle.
func (s *Spans) put(d *decoder) {
	s.mu.Lock()
	s.idle = append(s.idle, d)
	var drop *decoder
	if len(s.idle) > maxIdle {
		drop, s.idle = s.idle[0], s.idle[1:]
	}
	s.mu.Unlock()
	if drop != nil {
		drop.rc.Close()
	}
}

// Close closes the idle decoders; reads under way finish first.
func (s *Spans) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, d := range idle {
		d.rc.Close()
	}
	return nil
}
