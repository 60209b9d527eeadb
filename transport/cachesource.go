package transport

import (
	"context"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/store"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

// CacheFetch is a store.Fetch that opens through containers/image the image
// that ref makes of a name: any transport, such as docker://, oci:,
// containers-storage:, docker-archive: or oci-tar:. A store.Cache calls it
// only for what it lacks.
//
//	cache.Resolve(ctx, "registry.example/app:1", nil, transport.CacheFetch(sys,
//		func(name string) (types.ImageReference, error) { return alltransports.ParseImageName("docker://" + name) }))
func CacheFetch(sys *types.SystemContext, ref func(name string) (types.ImageReference, error)) store.Fetch {
	return func(ctx context.Context, name string) (store.Source, error) {
		r, err := ref(name)
		if err != nil {
			return nil, err
		}
		src, err := r.NewImageSource(ctx, sys)
		if err != nil {
			return nil, err
		}
		return CacheSource(src), nil
	}
}

// CacheSource is src, an image source of containers/image, as a store.Source.
// Its Close closes src.
func CacheSource(src types.ImageSource) store.Source {
	return &cacheSource{src: src}
}

type cacheSource struct {
	src  types.ImageSource
	top  []byte // the manifest or index Descriptor fetched, served again without a request
	desc imgspecv1.Descriptor
}

func (s *cacheSource) Descriptor(ctx context.Context) (imgspecv1.Descriptor, error) {
	data, mediaType, err := s.src.GetManifest(ctx, nil)
	if err != nil {
		return imgspecv1.Descriptor{}, err
	}
	d, err := manifest.Digest(data)
	if err != nil {
		return imgspecv1.Descriptor{}, fmt.Errorf("%s: %w", transports.ImageName(s.src.Reference()), err)
	}
	if mediaType == "" {
		mediaType = manifest.GuessMIMEType(data)
	}
	s.top, s.desc = data, imgspecv1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
	return s.desc, nil
}

func (s *cacheSource) Manifest(ctx context.Context, d digest.Digest) ([]byte, string, error) {
	if s.top != nil && d == s.desc.Digest {
		return s.top, s.desc.MediaType, nil
	}
	return s.src.GetManifest(ctx, &d)
}

func (s *cacheSource) OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	return s.src.GetBlob(ctx, types.BlobInfo{Digest: d, Size: -1}, none.NoCache)
}

func (s *cacheSource) Close() error { return s.src.Close() }
