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
// that archive.OpenLayer, ExtractLayers and Unpack read from it. Every blob is
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
func (o *BlobOpener) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	if err := d.Validate(); err != nil {
		return nil, 0, fmt.Errorf("blob %q: %w: %w", d, archive.ErrUnsupportedDigest, err)
	}
	size, known := o.sizes[d]
	if !known {
		size = -1
	}
	rc, got, err := o.src.GetBlob(o.ctx, types.BlobInfo{Digest: d, Size: size}, none.NoCache)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: blob %s: %w", o.src.Reference().StringWithinTransport(), d, err)
	}
	if size < 0 {
		size = got
	}
	if got >= 0 && got != size {
		rc.Close()
		return nil, 0, fmt.Errorf("%s: blob %s: %w: %d bytes, %d expected", o.src.Reference().StringWithinTransport(), d, archive.ErrSizeMismatch, got, size)
	}
	return &verifiedBlob{rc: rc, verifier: d.Verifier(), digest: d, size: size}, size, nil
}

// verifiedBlob passes a blob through and fails at EOF unless it has its digest and size.
type verifiedBlob struct {
	rc       io.ReadCloser
	verifier digest.Verifier
	digest   digest.Digest
	size     int64 // -1 when unknown
	n        int64
	err      error
}

func (v *verifiedBlob) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.verifier.Write(p[:n])
	v.n += int64(n)
	switch {
	case v.size >= 0 && v.n > v.size:
		v.err = fmt.Errorf("blob %s: %w: more than the %d bytes expected", v.digest, archive.ErrSizeMismatch, v.size)
	case err == io.EOF && v.size >= 0 && v.n != v.size:
		v.err = fmt.Errorf("blob %s: %w: %d bytes, %d expected", v.digest, archive.ErrSizeMismatch, v.n, v.size)
	case err == io.EOF && !v.verifier.Verified():
		v.err = fmt.Errorf("blob %s: %w", v.digest, archive.ErrDigestMismatch)
	default:
		v.err = err
	}
	return n, v.err
}

func (v *verifiedBlob) Close() error { return v.rc.Close() }
