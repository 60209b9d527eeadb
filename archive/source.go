package archive

import (
	"io"

	"github.com/ocitar/ocitar/internal/hashing"
	digest "github.com/opencontainers/go-digest"
)

// BlobOpener serves blobs by digest. Reading a blob to EOF fails unless its
// content matches the digest and the size returned. *Reader implements it,
// and so do store.LayoutStore and store.Cache, so the functions of rootfs,
// which take a BlobOpener, work on an archive, an OCI layout directory or a
// cache alike.
type BlobOpener interface {
	OpenBlob(d digest.Digest) (io.ReadCloser, int64, error)
}

var _ BlobOpener = (*Reader)(nil)

// NewVerifiedReader passes r through and fails the Read that reaches EOF
// unless what was read has digest d and, unless size is -1, size bytes; it
// fails as soon as more than size bytes come. Errors start with what (the
// blob and where it comes from) and wrap ErrDigestMismatch or ErrSizeMismatch.
// It lets a tool's own BlobOpener verify as the library's do.
func NewVerifiedReader(r io.ReadCloser, what string, d digest.Digest, size int64) (io.ReadCloser, error) {
	v, err := hashing.NewVerified(r, what, d, size)
	if err != nil {
		return nil, err
	}
	return v, nil
}
