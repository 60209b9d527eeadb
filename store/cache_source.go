package store

import (
	"bytes"
	"context"
	"io"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Source serves the manifests and blobs of one image, as a registry serves
// a tagged image: what a Cache fetches from. ReaderSource makes one of an
// archive or a layout directory, transport.CacheSource of any containers/image
// reference. What a Source serves need not be verified: the Cache checks every
// manifest and blob against its digest and size.
type Source interface {
	// Descriptor is the image's manifest or index.
	Descriptor(ctx context.Context) (ocispec.Descriptor, error)
	// Manifest returns a manifest or index of the image by digest, and its media type.
	Manifest(ctx context.Context, d digest.Digest) ([]byte, string, error)
	// OpenBlob opens a config or layer of the image by digest and returns its
	// size, -1 when unknown.
	OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, int64, error)
	Close() error
}

// Fetch opens the source of the image name names. A Cache calls it only for
// an image, or a platform of one, that it lacks, and closes the Source.
type Fetch func(ctx context.Context, name string) (Source, error)

// ReaderSource is the image sel picks in r, an archive or a layout directory,
// as a Source. A docker-save image without a manifest of its own is served
// with an OCI manifest made for it, as Load stores it. Close closes r.
func ReaderSource(r *archive.Reader, sel archive.Selector) Source {
	return &readerSource{r: r, sel: sel}
}

type readerSource struct {
	r       *archive.Reader
	sel     archive.Selector
	made    []byte // the manifest made for a docker-save image without one
	madeFor digest.Digest
}

func (s *readerSource) Descriptor(context.Context) (ocispec.Descriptor, error) {
	img, err := s.r.Select(s.sel)
	if err != nil || !img.Synthesized {
		return img.Descriptor, err
	}
	synthetic, _, err := s.r.Manifest(img.Descriptor.Digest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if s.made, err = ociManifestOf(synthetic); err != nil {
		return ocispec.Descriptor{}, err
	}
	s.madeFor = digest.FromBytes(s.made)
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: s.madeFor, Size: int64(len(s.made))}, nil
}

func (s *readerSource) Manifest(_ context.Context, d digest.Digest) ([]byte, string, error) {
	if s.made != nil && d == s.madeFor {
		return bytes.Clone(s.made), ocispec.MediaTypeImageManifest, nil
	}
	return s.r.Manifest(d)
}

func (s *readerSource) OpenBlob(_ context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	return s.r.OpenBlob(d)
}

func (s *readerSource) Close() error { return s.r.Close() }
