package archive

import (
	"fmt"
	"runtime"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Resolved is an image resolved to the manifest of one platform.
type Resolved struct {
	Image      Image              // the image the selector picked: a manifest or an index
	Descriptor ocispec.Descriptor // of the manifest for the platform
	Manifest   ocispec.Manifest   // its config descriptor and layer descriptors, base layer first
	Config     ocispec.Image      // the parsed config
}

// Resolve picks the image sel selects and, in an index, the manifest for
// platform; nil means the platform this program runs on. A platform matches on
// OS, architecture and variant, an absent variant standing for the default of
// the architecture (arm64: v8, arm: v7, amd64: v1). A single manifest is
// checked against platform when one is given.
func (r *Reader) Resolve(sel Selector, platform *ocispec.Platform) (Resolved, error) {
	img, err := r.Select(sel)
	if err != nil {
		return Resolved{}, err
	}
	want, pinned := platformOrHost(platform)
	found, err := r.platformManifests(img.Descriptor)
	if err != nil {
		return Resolved{}, fmt.Errorf("%s: image %s: %w", r.name, img, err)
	}
	single := IsManifest(img.Descriptor.MediaType) && !pinned
	for _, pm := range found {
		if single || PlatformMatches(want, pm.platform) {
			return r.resolved(img, pm)
		}
	}
	return Resolved{}, fmt.Errorf("%s: image %s: %w platform %s; it holds %s", r.name, img, ErrNoMatch, PlatformString(want), listPlatforms(platformsOf(found)))
}

// platformManifest is a manifest of an image and the platform it runs on.
type platformManifest struct {
	desc     ocispec.Descriptor
	manifest ocispec.Manifest
	platform ocispec.Platform
}

// platformManifests lists the manifests that d is or lists, nested indexes
// included, leaving out the members the archive lacks.
func (r *Reader) platformManifests(d ocispec.Descriptor) ([]platformManifest, error) {
	c := manifestCollector{indexes: map[digest.Digest]bool{}}
	err := r.collectManifests(d, 0, &c)
	return c.found, err
}

// manifestCollector gathers the manifests of an image, reading each index once.
type manifestCollector struct {
	found   []platformManifest
	indexes map[digest.Digest]bool // read already
}

func (r *Reader) collectManifests(d ocispec.Descriptor, depth int, c *manifestCollector) error {
	switch {
	case !r.holds(d) || c.indexes[d.Digest]:
		return nil
	case IsIndex(d.MediaType):
		c.indexes[d.Digest] = true
		if depth >= maxIndexDepth {
			return fmt.Errorf("%w: indexes nested deeper than %d", ErrInvalidMetadata, maxIndexDepth)
		}
		var index ocispec.Index
		if err := r.readJSON(d, &index); err != nil {
			return err
		}
		for _, child := range index.Manifests {
			if err := r.collectManifests(child, depth+1, c); err != nil {
				return err
			}
		}
	case IsManifest(d.MediaType):
		var m ocispec.Manifest
		if err := r.readJSON(d, &m); err != nil {
			return err
		}
		p, err := r.platformOf(d, m.Config)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		pm := platformManifest{desc: d, manifest: m}
		if p != nil {
			pm.platform = *p
		}
		c.found = append(c.found, pm)
	}
	return nil
}

func (r *Reader) resolved(img Image, pm platformManifest) (Resolved, error) {
	config, err := r.readConfig(pm.manifest.Config)
	if err != nil {
		return Resolved{}, fmt.Errorf("%s: image %s: %w", r.name, img, err)
	}
	return Resolved{Image: img, Descriptor: pm.desc, Manifest: pm.manifest, Config: config}, nil
}

// readConfig reads the image config d, verified.
func (r *Reader) readConfig(d ocispec.Descriptor) (ocispec.Image, error) {
	var config ocispec.Image
	data, err := r.readBlob(d.Digest, d.Size, maxConfigSize)
	if err == nil {
		err = decodeJSON(data, "config "+d.Digest.String(), &config)
	}
	return config, err
}

// holds reports whether the archive has the blob d describes.
func (r *Reader) holds(d ocispec.Descriptor) bool {
	_, blob := r.blobs[d.Digest]
	_, synthetic := r.synthetic[d.Digest]
	return blob || synthetic
}

// readJSON reads the manifest or index d, verified, into v.
func (r *Reader) readJSON(d ocispec.Descriptor, v any) error {
	data, err := r.readBlob(d.Digest, d.Size, MaxManifestSize)
	if err != nil {
		return err
	}
	kind := "manifest"
	if IsIndex(d.MediaType) {
		kind = "index"
	}
	return decodeJSON(data, kind+" "+d.Digest.String(), v)
}

// IsIndex reports whether mediaType is an OCI index or a Docker manifest list.
func IsIndex(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == mediaTypeDockerManifestList
}

// IsManifest reports whether mediaType is an OCI image manifest or a Docker schema2 manifest.
func IsManifest(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageManifest || mediaType == mediaTypeDockerManifest
}

// platformOrHost is p, or the platform this program runs on when p is nil;
// pinned says whether p was given.
func platformOrHost(p *ocispec.Platform) (ocispec.Platform, bool) {
	if p != nil {
		return *p, true
	}
	return ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}, false
}

// PlatformMatches reports whether an image for have runs as want asks: same
// OS, architecture and variant, an absent variant being the architecture's default.
func PlatformMatches(want, have ocispec.Platform) bool {
	return want.OS == have.OS && want.Architecture == have.Architecture &&
		variantOrDefault(want) == variantOrDefault(have)
}

func variantOrDefault(p ocispec.Platform) string {
	if p.Variant != "" {
		return p.Variant
	}
	switch p.Architecture {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	case "amd64":
		return "v1"
	}
	return ""
}

func platformsOf(found []platformManifest) []ocispec.Platform {
	out := make([]ocispec.Platform, len(found))
	for i, pm := range found {
		out[i] = pm.platform
	}
	return out
}

func listPlatforms(platforms []ocispec.Platform) string {
	if len(platforms) == 0 {
		return "no manifest"
	}
	parts := make([]string, len(platforms))
	for i, p := range platforms {
		parts[i] = PlatformString(p)
	}
	return strings.Join(parts, ", ")
}
