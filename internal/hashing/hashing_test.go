package hashing

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

func TestHashingReader(t *testing.T) {
	tests := []struct {
		name       string
		size, read int
	}{
		{"empty", 0, 512},
		{"smaller than a chunk", 100, 7},
		{"a byte short of a chunk", Chunk - 1, 32 << 10},
		{"one chunk", Chunk, 32 << 10},
		{"chunks and a tail, small reads", 3*Chunk + 5, 4093},
		{"chunks and a tail, reads larger than a chunk", 3*Chunk + 5, 4 * Chunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := testimage.Bytes(7, tt.size)
			h := NewReader(bytes.NewReader(data), digest.SHA256)
			got, err := io.ReadAll(io.LimitReader(readerOfSize{h, tt.read}, int64(tt.size)+1))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v; want the %d given", len(got), err, tt.size)
			}
			want := digest.FromBytes(data)
			if d := h.Digest(); d != want || h.N != int64(tt.size) {
				t.Fatalf("digest %s of %d bytes, want %s of %d", d, h.N, want, tt.size)
			}
			if d := h.Digest(); d != want {
				t.Errorf("second digest %s, want %s", d, want)
			}
			if err := h.Verify(want, int64(tt.size)); err != nil {
				t.Errorf("verify: %v", err)
			}
			if err := h.Verify(digest.FromString("other"), int64(tt.size)); !errors.Is(err, errkind.ErrDigestMismatch) {
				t.Errorf("verify of another digest: %v, want %v", err, errkind.ErrDigestMismatch)
			}
		})
	}
}

// readerOfSize reads at most n bytes at a time from r.
type readerOfSize struct {
	r io.Reader
	n int
}

func (r readerOfSize) Read(p []byte) (int, error) {
	return r.r.Read(p[:min(len(p), r.n)])
}

// TestReaderAllocations checks that the bytes kept for the background hash
// grow by doubling: growing by a quarter, as append does past 256 bytes,
// allocates and copies dozens of buffers on the way to a chunk.
func TestReaderAllocations(t *testing.T) {
	data := testimage.Bytes(7, 3*Chunk+100)
	want := digest.FromBytes(data)
	tests := []struct {
		name      string
		read      int
		maxAllocs float64
	}{
		{"tar blocks", 512, 32},
		{"copy buffers", 32 << 10, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, tt.read)
			allocs := testing.AllocsPerRun(5, func() {
				h := NewReader(bytes.NewReader(data), digest.SHA256)
				for {
					if _, err := h.Read(buf); err == io.EOF {
						break
					}
				}
				if got := h.Digest(); got != want {
					t.Fatalf("digest %s, want %s", got, want)
				}
			})
			if allocs > tt.maxAllocs {
				t.Errorf("%.0f allocations to hash %d bytes read %d at a time, want at most %.0f", allocs, len(data), tt.read, tt.maxAllocs)
			}
		})
	}
}
