package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
)

func TestPipeCopy(t *testing.T) {
	errSource := errors.New("source failed")
	errTruncated := fmt.Errorf("layer.tar: %w", io.ErrUnexpectedEOF)
	errWrite := errors.New("disk full")
	tests := []struct {
		name        string
		source      int   // bytes the source holds
		failAfter   int   // the source fails once it gave this many bytes; -1 never
		withData    bool  // the failure comes with the last bytes, once, and EOF after
		err         error // the source's failure
		size        int64 // bytes asked for
		failWrite   int   // the write of this chunk (1-based) fails; 0 never
		wantWritten int64
		wantErr     error
	}{
		{"empty", 0, -1, false, nil, 0, 0, 0, nil},
		{"a byte", 1, -1, false, nil, 1, 0, 1, nil},
		{"a byte short of a chunk", copyChunk - 1, -1, false, nil, copyChunk - 1, 0, copyChunk - 1, nil},
		{"one chunk", copyChunk, -1, false, nil, copyChunk, 0, copyChunk, nil},
		{"more chunks than buffers and a tail", 5*copyChunk + 17, -1, false, nil, 5*copyChunk + 17, 0, 5*copyChunk + 17, nil},
		{"source longer than asked", 2 * copyChunk, -1, false, nil, copyChunk + 3, 0, copyChunk + 3, nil},
		{"source shorter than asked", copyChunk + 3, -1, false, nil, 2 * copyChunk, 0, copyChunk + 3, nil},
		{"small entry, source fails", 100, 50, false, errSource, 100, 0, 50, errSource},
		{"source fails mid-chunk", 3 * copyChunk, copyChunk + 5, false, errSource, 3 * copyChunk, 0, copyChunk + 5, errSource},
		{"source fails with the bytes that end the blob", 2 * copyChunk, 2 * copyChunk, true, errSource, 2 * copyChunk, 0, 2 * copyChunk, errSource},
		{"source fails with the bytes that fill a chunk", 3 * copyChunk, copyChunk, true, errSource, 3 * copyChunk, 0, copyChunk, errSource},
		{"source fails with an error wrapping io.ErrUnexpectedEOF", 3 * copyChunk, copyChunk + 5, false, errTruncated, 3 * copyChunk, 0, copyChunk + 5, errTruncated},
		{"write fails", 100 * copyChunk, -1, false, nil, 100 * copyChunk, 2, copyChunk, errWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := testimage.Bytes(3, tt.source)
			src := &countingSource{r: bytes.NewReader(data), failAfter: tt.failAfter, withData: tt.withData, err: tt.err}
			var out bytes.Buffer
			chunks := 0
			write := func(p []byte) error {
				if chunks++; chunks == tt.failWrite {
					return errWrite
				}
				out.Write(p)
				return nil
			}
			n, err := pipeCopy(write, src, tt.size)
			if !errors.Is(err, tt.wantErr) || n != tt.wantWritten {
				t.Fatalf("pipeCopy = %d, %v; want %d, %v", n, err, tt.wantWritten, tt.wantErr)
			}
			if !bytes.Equal(out.Bytes(), data[:n]) {
				t.Errorf("wrote %d bytes that differ from the source's first %d", out.Len(), n)
			}
			if tt.source > 0 && tt.failAfter < 0 && int64(tt.source) > tt.size && src.n > tt.size {
				t.Errorf("read %d bytes of the source, beyond the %d asked for", src.n, tt.size)
			}
			if inFlight := int64(tt.failWrite-1+copyBuffers) * copyChunk; tt.failWrite > 0 && src.n > inFlight {
				t.Errorf("read %d bytes though the write failed; at most %d are read ahead", src.n, inFlight)
			}
		})
	}
}

// countingSource counts the bytes read from r and fails with err once
// failAfter bytes were read, unless failAfter is negative. With withData the
// failure comes once, with the read that reaches failAfter, and EOF after it,
// as from a reader that reports its error a single time.
type countingSource struct {
	r         io.Reader
	n         int64
	failAfter int
	withData  bool
	err       error
	failed    bool
}

func (s *countingSource) Read(p []byte) (int, error) {
	if s.failAfter >= 0 {
		left := int64(s.failAfter) - s.n
		switch {
		case left <= 0 && s.withData && s.failed:
			return 0, io.EOF
		case left <= 0:
			return 0, s.err
		}
		p = p[:min(int64(len(p)), left)]
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.withData && s.failAfter >= 0 && s.n == int64(s.failAfter) {
		s.failed = true
		return n, s.err
	}
	return n, err
}
