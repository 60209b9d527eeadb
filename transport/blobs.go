package transport

import (
	"context"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/types"
)

// BlobOpener makes an ImageSource of any transport an archive.BlobOpener, so
// that rootfs.OpenLayer, ExtractLayers and Unpack read from it. Every blob is
// verified against its digest, and against its size where known, whether or
// not the transport verifies it itself. It is safe for concurrent use when the
// source's HasThreadSafeGetBlob is true.
type BlobOpener struct {
	ctx   context.Context
	src   types.ImageSource
	sizes map[digest.Digest]int64
}

// NewBlobOpener serves the blobs of src, fetched under ctx; known lists blobs
// whose sizes are known, such as an image's LayerInfos.
func NewBlobOpener(ctx context.Context, src types.ImageSource, known []types.BlobInfo) *BlobOpener {
	sizes := map[digest.Digest]int64{}
	for _, b := range known {
		if b.Size >= 0 {
			sizes[b.Digest] = b.Size
		}
	}
	return &BlobOpener{ctx: ctx, src: src, sizes: sizes}
}

var _ archive.BlobOpener = (*BlobOpener)(nil)

// OpenBlob returns blob d and its size, -1 when neither the source nor the
// known blobs say it. Reading it to EOF fails unless it matches d and the size.
// An oci-tar: source's blob comes from its archive, which checks it: each
// byte is hashed once.
func (o *BlobOpener) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	if err := d.Validate(); err != nil {
		return nil, 0, fmt.Errorf("blob %q: %w: %w", d, archive.ErrUnsupportedDigest, err)
	}
	if s, ok := o.src.(*imageSource); ok {
		return s.r.OpenBlob(d)
	}
	size, known := o.sizes[d]
	if !known {
		size = -1
	}
	what := o.src.Reference().StringWithinTransport() + ": blob " + d.String()
	rc, got, err := o.src.GetBlob(o.ctx, types.BlobInfo{Digest: d, Size: size}, none.NoCache)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	if size < 0 {
		size = got
	}
	if got >= 0 && got != size {
		rc.Close()
		return nil, 0, fmt.Errorf("%s: %w: %d bytes, %d expected", what, archive.ErrSizeMismatch, got, size)
	}
	v, err := archive.NewVerifiedReader(rc, what, d, size)
	if err != nil {
		return nil, 0, err
	}
	return v, size, nil
}
