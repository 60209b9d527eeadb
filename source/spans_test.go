package source

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// countingOpener enters content at the start of a span and counts how often.
type countingOpener struct {
	content []byte
	spans   []Span
	opens   int
	cut     int64 // the stream ends early here, when > 0
}

func (c *countingOpener) open(i int) (io.ReadCloser, error) {
	c.opens++
	end := int64(len(c.content))
	if c.cut > 0 {
		end = c.cut
	}
	return io.NopCloser(bytes.NewReader(c.content[c.spans[i].Offset:end])), nil
}

func testSpans(content []byte, size int64) []Span {
	var spans []Span
	for off := int64(0); off < int64(len(content)); off += size {
		spans = append(spans, Span{Offset: off, Size: min(size, int64(len(content))-off)})
	}
	return spans
}

func TestSpansReadAt(t *testing.T) {
	content := make([]byte, 10_000)
	for i := range content {
		content[i] = byte(i * 7)
	}
	type read struct{ off, n int64 }
	tests := []struct {
		name      string
		reads     []read
		wantOpens int
	}{
		{"in order across spans", []read{{0, 1000}, {1000, 1000}, {2000, 3000}, {5000, 5000}}, 1},
		{"forward within a span", []read{{0, 10}, {500, 10}}, 1},
		{"back within a span", []read{{600, 10}, {500, 10}}, 2},
		{"into a later span", []read{{0, 10}, {3500, 10}}, 2},
		{"interleaved blobs", []read{{0, 100}, {5000, 100}, {100, 100}, {5100, 100}}, 2},
		{"short at the end", []read{{9990, 100}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &countingOpener{content: content, spans: testSpans(content, 1000)}
			s, err := NewSpans("test", "id", o.spans, o.open)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, r := range tt.reads {
				p := make([]byte, r.n)
				n, err := s.ReadAt(p, r.off)
				end := min(r.off+r.n, int64(len(content)))
				if int64(n) != end-r.off || (end < r.off+r.n) != errors.Is(err, io.EOF) {
					t.Fatalf("ReadAt(%d, %d) = %d, %v", r.n, r.off, n, err)
				}
				if !bytes.Equal(p[:n], content[r.off:end]) {
					t.Fatalf("ReadAt(%d, %d): wrong bytes", r.n, r.off)
				}
			}
			if o.opens != tt.wantOpens {
				t.Errorf("opens = %d, want %d", o.opens, tt.wantOpens)
			}
		})
	}
}

func TestSpansTruncatedStream(t *testing.T) {
	content := make([]byte, 4000)
	o := &countingOpener{content: content, spans: testSpans(content, 1000), cut: 2500}
	s, err := NewSpans("test.tar.gz", "id", o.spans, o.open)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ReadAt(make([]byte, 1000), 2000)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestNewSpansRefusesGaps(t *testing.T) {
	tests := []struct {
		name  string
		spans []Span
	}{
		{"gap", []Span{{0, 10}, {20, 10}}},
		{"overlap", []Span{{0, 10}, {5, 10}}},
		{"not from zero", []Span{{1, 10}}},
		{"negative", []Span{{0, -1}}},
	}
	for _, tt := range tests {
		if _, err := NewSpans("x", "id", tt.spans, nil); err == nil {
			t.Errorf("%s: NewSpans accepted %v", tt.name, tt.spans)
		}
	}
}
