package archive

import (
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is one top-level image of an archive: an entry of index.json, or an
// image of a docker-save manifest.json.
type Image struct {
	Position   int                // place in index.json or manifest.json, from 0
	Names      []string           // ref.name, io.containerd.image.name and RepoTags, as written
	Descriptor ocispec.Descriptor // the manifest or index
	Platforms  []ocispec.Platform // of every manifest present in the archive
	Size       int64              // bytes of the manifests, configs and layers it references, each once
	// Blobs are the manifests, configs and layers it references, each once,
	// members before what lists them: the order to copy them in. A foreign
	// layer (one with URLs) may be listed that the archive does not hold.
	Blobs []ocispec.Descriptor
	// Synthesized tells that the archive holds no manifest for the image, a
	// docker-save image without one: the Reader made the Descriptor's manifest,
	// a Docker schema2 manifest whose layers are named by their DiffIDs.
	Synthesized bool

	contents []content
	repoTags []string // the names docker's manifest.json gives it
}

// content is what one manifest of an image holds: a config and layers.
type content struct {
	config digest.Digest
	layers []digest.Digest
}

func newImage(position int, d ocispec.Descriptor, platforms []ocispec.Platform, contents []content, blobs []ocispec.Descriptor) Image {
	img := Image{Position: position, Descriptor: d, Platforms: platforms, contents: contents, Blobs: blobs}
	for _, b := range blobs {
		img.Size += b.Size
	}
	return img
}

// isLayer reports whether d is a layer of the image, and neither a
// manifest nor a config.
func (img Image) isLayer(d digest.Digest) bool {
	for _, c := range img.contents {
		if slices.Contains(c.layers, d) && d != c.config {
			return true
		}
	}
	return false
}

// DockerTags are the image's names as docker's manifest.json lists them: its
// RepoTags, else those of its other names that are docker references with a tag.
func (img Image) DockerTags() []string {
	if len(img.repoTags) > 0 {
		return img.repoTags
	}
	var tags []string
	for _, n := range img.Names {
		if tag, ok := RepoTag(n); ok {
			tags = appendNames(tags, tag)
		}
	}
	return tags
}

// String names the image for people: position, digest and names.
func (img Image) String() string {
	s := fmt.Sprintf("@%d %s", img.Position, img.Descriptor.Digest)
	if len(img.Names) > 0 {
		s += " (" + strings.Join(img.Names, ", ") + ")"
	}
	return s
}

// PlatformString formats a platform as os/arch[/variant].
func PlatformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Manifest returns a manifest or index of the archive by digest, verified, and its media type.
func (r *Reader) Manifest(d digest.Digest) ([]byte, string, error) {
	data, err := r.readBlob(d, -1, MaxManifestSize)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", r.name, err)
	}
	if mt, ok := r.types[d]; ok && mt != "" {
		return data, mt, nil
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if err := decodeJSON(data, "manifest "+d.String(), &probe); err != nil {
		return nil, "", fmt.Errorf("%s: %w", r.name, err)
	}
	return data, probe.MediaType, nil
}

// Select returns the one image that sel picks.
func (r *Reader) Select(sel Selector) (Image, error) {
	matches := sel.filter(r.images)
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(r.images) == 0:
		return Image{}, fmt.Errorf("%s: %w: the archive holds no images", r.name, ErrNoMatch)
	case len(matches) == 0:
		return Image{}, fmt.Errorf("%s: %w %s; the archive holds: %s", r.name, ErrNoMatch, sel, listImages(r.images))
	case sel.IsZero():
		return Image{}, fmt.Errorf("%s: %w: the archive holds several, name one of: %s", r.name, ErrAmbiguous, listImages(matches))
	}
	return Image{}, fmt.Errorf("%s: %w %s: %s", r.name, ErrAmbiguous, sel, listImages(matches))
}

func listImages(images []Image) string {
	parts := make([]string, len(images))
	for i, img := range images {
		parts[i] = img.String()
	}
	return strings.Join(parts, "; ")
}
