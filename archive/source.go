package archive

import (
	"io"

	digest "github.com/opencontainers/go-digest"
)

// BlobOpener serves blobs by digest. Reading a blob to EOF fails unless its
// content matches the digest and the size returned. *Reader implements it, and
// so does every store of this package, so the functions that take a
// BlobOpener work on an archive, an OCI layout directory or a cache alike.
type BlobOpener interface {
	OpenBlob(d digest.Digest) (io.ReadCloser, int64, error)
}

var _ BlobOpener = (*Reader)(nil)
