package transport

import (
	"context"
	"io"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/types"
)

// imageSource serves one image of an archive opened in place.
type imageSource struct {
	ref   ociTarReference
	r     *archive.Reader
	image archive.Image
}

func newImageSource(ref ociTarReference, sys *types.SystemContext) (*imageSource, error) {
	r, err := archive.Open(ref.path, readerOptions(ref.opts.Reader, sys))
	if err != nil {
		return nil, err
	}
	img, err := r.Select(ref.selector)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &imageSource{ref: ref, r: r, image: img}, nil
}

// ImageNames are the names an oci-tar: source's image has in its archive
// (ref.name, io.containerd.image.name, RepoTags); nil for other sources.
func ImageNames(src types.ImageSource) []string {
	if s, ok := src.(*imageSource); ok {
		return s.image.Names
	}
	return nil
}

// readerOptions are opts, with the SystemContext's temporary directory if it names one.
func readerOptions(opts archive.Options, sys *types.SystemContext) archive.Options {
	if sys != nil && sys.BigFilesTemporaryDir != "" {
		opts.TempDir = sys.BigFilesTemporaryDir
	}
	return opts
}

func (s *imageSource) Reference() types.ImageReference { return s.ref }

func (s *imageSource) Close() error { return s.r.Close() }

// GetManifest returns the selected image's manifest or index, or the instance
// instanceDigest names.
func (s *imageSource) GetManifest(ctx context.Context, instanceDigest *digest.Digest) ([]byte, string, error) {
	d := s.image.Descriptor.Digest
	if instanceDigest != nil {
		d = *instanceDigest
	}
	return s.r.Manifest(d)
}

// GetBlob streams a blob straight from the archive; it fails at EOF unless the
// content matches its digest.
func (s *imageSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	return s.r.OpenBlob(info.Digest)
}

// HasThreadSafeGetBlob is true: blobs are independent sections of the file.
func (s *imageSource) HasThreadSafeGetBlob() bool { return true }

// GetSignatures returns none: archives carry no signatures.
func (s *imageSource) GetSignatures(ctx context.Context, instanceDigest *digest.Digest) ([][]byte, error) {
	return nil, nil
}

// LayerInfosForCopy is nil: the manifest lists the blobs as they are served.
func (s *imageSource) LayerInfosForCopy(ctx context.Context, instanceDigest *digest.Digest) ([]types.BlobInfo, error) {
	return nil, nil
}
