package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxConfigSize is the size of the largest image config read, containers/image's limit.
const maxConfigSize = 4 << 20

// Media types of Docker's manifests, which registries serve beside OCI's.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// fetcher copies from a Source what a store lacks of an image for one platform.
type fetcher struct {
	ctx    context.Context
	src    Source
	store  *LayoutStore
	want   ocispec.Platform
	pinned bool // a single manifest must be for want too, not only a manifest an index lists for it
}

// image stores the manifest or index d and, for the platform, the manifest an
// index lists, its config and its layers. It returns d's media type.
func (f fetcher) image(d ocispec.Descriptor) (string, error) {
	data, mediaType, err := f.manifest(d)
	if err != nil {
		return "", err
	}
	switch mediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		var index ocispec.Index
		if err := json.Unmarshal(data, &index); err != nil {
			return "", fmt.Errorf("%w: index %s: %w", archive.ErrInvalidMetadata, d.Digest, err)
		}
		m, err := f.choose(index)
		if err != nil {
			return "", err
		}
		manifest, _, err := f.manifest(m)
		if err != nil {
			return "", err
		}
		return mediaType, f.contents(m, manifest, false)
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		return mediaType, f.contents(d, data, f.pinned)
	}
	return "", fmt.Errorf("%w: %s is %q, not an image manifest or index", archive.ErrInvalidMetadata, d.Digest, mediaType)
}

// choose is the manifest index lists for the platform. Members that name no
// platform, or are not image manifests (nested indexes), are passed over.
func (f fetcher) choose(index ocispec.Index) (ocispec.Descriptor, error) {
	var has []string
	for _, m := range index.Manifests {
		if m.Platform == nil || (m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != mediaTypeDockerManifest) {
			continue
		}
		if archive.PlatformMatches(f.want, *m.Platform) {
			return m, nil
		}
		has = append(has, archive.PlatformString(*m.Platform))
	}
	return ocispec.Descriptor{}, f.noMatch(has...)
}

func (f fetcher) noMatch(has ...string) error {
	list := strings.Join(has, ", ")
	if list == "" {
		list = "no manifest for any platform"
	}
	return fmt.Errorf("%w platform %s; the image has %s", archive.ErrNoMatch, archive.PlatformString(f.want), list)
}

// contents stores the config and layers of manifest d, whose content is data,
// checking first, if check, that its config is for the platform.
func (f fetcher) contents(d ocispec.Descriptor, data []byte, check bool) error {
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: manifest %s: %w", archive.ErrInvalidMetadata, d.Digest, err)
	}
	if err := f.blob(m.Config); err != nil {
		return err
	}
	if check {
		if err := f.checkPlatform(m.Config); err != nil {
			return err
		}
	}
	for _, l := range m.Layers {
		if err := f.blob(l); err != nil {
			return err
		}
	}
	return nil
}

// checkPlatform fails unless the config d, stored, is for the platform.
func (f fetcher) checkPlatform(d ocispec.Descriptor) error {
	data, err := f.stored(d.Digest, maxConfigSize)
	if err != nil {
		return err
	}
	var config ocispec.Image
	if err := json.Unmarshal(data, &config); err != nil {
		return fmt.Errorf("%w: config %s: %w", archive.ErrInvalidMetadata, d.Digest, err)
	}
	if !archive.PlatformMatches(f.want, config.Platform) {
		return f.noMatch(archive.PlatformString(config.Platform))
	}
	return nil
}

// manifest is the manifest or index d, from the store when it holds it, else
// from the source, stored verified; and its media type.
func (f fetcher) manifest(d ocispec.Descriptor) ([]byte, string, error) {
	_, held, err := f.store.StatBlob(d.Digest)
	if err != nil {
		return nil, "", err
	}
	var data []byte
	if held {
		data, err = f.stored(d.Digest, archive.MaxManifestSize)
	} else {
		data, err = f.fetchManifest(d)
	}
	if err != nil {
		return nil, "", err
	}
	if d.MediaType != "" {
		return data, d.MediaType, nil
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, "", fmt.Errorf("%w: manifest %s: %w", archive.ErrInvalidMetadata, d.Digest, err)
	}
	return data, probe.MediaType, nil
}

// fetchManifest reads manifest d from the source and stores it, verified.
func (f fetcher) fetchManifest(d ocispec.Descriptor) ([]byte, error) {
	data, _, err := f.src.Manifest(f.ctx, d.Digest)
	if err != nil {
		return nil, err
	}
	if len(data) > archive.MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest %s has %d bytes, more than %d", archive.ErrTooLarge, d.Digest, len(data), archive.MaxManifestSize)
	}
	size := d.Size
	if size <= 0 {
		size = -1
	}
	if _, err := f.store.PutBlob(bytes.NewReader(data), d.Digest, size); err != nil {
		return nil, err
	}
	return data, nil
}

// blob stores blob d from the source, verified, unless the store holds it.
func (f fetcher) blob(d ocispec.Descriptor) error {
	if _, held, err := f.store.StatBlob(d.Digest); err != nil || held {
		return err
	}
	rc, _, err := f.src.OpenBlob(f.ctx, d.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = f.store.PutBlob(rc, d.Digest, d.Size)
	return err
}

// stored reads blob d of the store, verified, up to limit bytes.
func (f fetcher) stored(d digest.Digest, limit int64) ([]byte, error) {
	rc, size, err := f.store.OpenBlob(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > limit {
		return nil, fmt.Errorf("%w: blob %s has %d bytes, more than %d", archive.ErrTooLarge, d, size, limit)
	}
	return io.ReadAll(rc)
}
