package archive

import (
	"bytes"
	"errors"
	"io"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

func TestHashingReader(t *testing.T) {
	tests := []struct {
		name       string
		size, read int
	}{
		{"empty", 0, 512},
		{"smaller than a chunk", 100, 7},
		{"a byte short of a chunk", hashChunk - 1, 32 << 10},
		{"one chunk", hashChunk, 32 << 10},
		{"chunks and a tail, small reads", 3*hashChunk + 5, 4093},
		{"chunks and a tail, reads larger than a chunk", 3*hashChunk + 5, 4 * hashChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := testBytes(7, tt.size)
			h := newHashingReader(bytes.NewReader(data), digest.SHA256)
			got, err := io.ReadAll(io.LimitReader(readerOfSize{h, tt.read}, int64(tt.size)+1))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v; want the %d given", len(got), err, tt.size)
			}
			want := digest.FromBytes(data)
			if d := h.digest(); d != want || h.n != int64(tt.size) {
				t.Fatalf("digest %s of %d bytes, want %s of %d", d, h.n, want, tt.size)
			}
			if d := h.digest(); d != want {
				t.Errorf("second digest %s, want %s", d, want)
			}
			if err := h.verify(want, int64(tt.size)); err != nil {
				t.Errorf("verify: %v", err)
			}
			if err := h.verify(digest.FromString("other"), int64(tt.size)); !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("verify of another digest: %v, want %v", err, ErrDigestMismatch)
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

func TestWriterPutCheckedBlob(t *testing.T) {
	content := testBytes(8, 3*hashChunk/2)
	n := int64(len(content))
	errCheck := errors.New("digest did not match") // what the caller's own check returns at the end
	tests := []struct {
		name       string
		err        error // at the end of content; nil for EOF
		d          digest.Digest
		size       int64
		wantDigest digest.Digest // "" when PutCheckedBlob must fail
		want       error
	}{
		{"checked by the caller", nil, digest.FromBytes(content), n, digest.FromBytes(content), nil},
		{"the caller's check fails at the end", errCheck, digest.FromBytes(content), n, "", errCheck},
		{"not hashed again: the digest is the caller's word", nil, digest.FromString("other"), n, digest.FromString("other"), nil},
		{"shorter than declared", nil, digest.FromBytes(content), n + 1, "", ErrSizeMismatch},
		{"longer than declared", nil, digest.FromBytes(content[:n-1]), n - 1, "", ErrSizeMismatch},
		{"digest unknown: hashed", nil, "", n, digest.FromBytes(content), nil},
		{"size unknown: hashed", nil, digest.FromString("other"), -1, "", ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, closeErr := writeArchive(t, toFile, WriterOptions{}, func(w *Writer) {
				d, size, err := w.PutCheckedBlob(&failingReader{data: content, err: tt.err}, tt.d, tt.size)
				if !errors.Is(err, tt.want) {
					t.Fatalf("PutCheckedBlob: %v, want %v", err, tt.want)
				}
				_, stored := w.Has(tt.wantDigest)
				if tt.wantDigest == "" {
					if _, ok := w.Has(tt.d); ok && tt.d != "" {
						t.Errorf("Has(%s) after a failed PutCheckedBlob", tt.d)
					}
					return
				}
				if d != tt.wantDigest || size != n || !stored {
					t.Errorf("PutCheckedBlob: %s, %d, stored %v; want %s, %d, stored", d, size, stored, tt.wantDigest, n)
				}
			})
			if closeErr != nil {
				t.Fatalf("Close: %v", closeErr)
			}
		})
	}
}
