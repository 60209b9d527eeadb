package archive

import (
	"errors"
	"testing"

	"github.com/ocitar/ocitar/internal/hashing"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

func TestWriterPutCheckedBlob(t *testing.T) {
	content := testimage.Bytes(8, 3*hashing.Chunk/2)
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
