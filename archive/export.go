package archive

import (
	"encoding/json"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Export writes img of r as an OCI layout tar to out, which may be a pipe.
// With platforms, only the manifests for those platforms are written, and
// every index on the way is rewritten to list only what the tar holds, with
// its annotations kept; an image with none of them is an error wrapping
// ErrNoMatch. Every blob is verified as it is written. Export does not close out.
func Export(out io.Writer, r *Reader, img Image, platforms ...ocispec.Platform) error {
	w := NewWriter(out, WriterOptions{Format: FormatOCI})
	if len(platforms) == 0 {
		if err := w.CopyImage(r, img); err != nil {
			return err
		}
		return w.Close()
	}
	e := exporter{w: w, r: r, platforms: platforms}
	desc, kept, err := e.export(img.Descriptor, 0)
	if err != nil {
		return fmt.Errorf("%s: exporting image %s: %w", r.name, img, err)
	}
	if !kept {
		var found []platformManifest
		if err := r.platformManifests(img.Descriptor, 0, &found); err != nil {
			return fmt.Errorf("%s: image %s: %w", r.name, img, err)
		}
		return fmt.Errorf("%s: image %s: %w platform %s; it holds %s", r.name, img, ErrNoMatch, listPlatforms(platforms), listPlatforms(platformsOf(found)))
	}
	img.Descriptor = desc
	if err := w.AddImage(img.indexDescriptor(), img.dockerTags()); err != nil {
		return err
	}
	return w.Close()
}

// exporter writes the manifests of an image for a set of platforms.
type exporter struct {
	w         *Writer
	r         *Reader
	platforms []ocispec.Platform
}

// export writes what d reaches for the platforms and returns the descriptor
// to list it by, and whether anything of it was kept.
func (e exporter) export(d ocispec.Descriptor, depth int) (ocispec.Descriptor, bool, error) {
	switch {
	case !e.r.holds(d):
		return d, false, nil
	case isIndex(d.MediaType):
		return e.exportIndex(d, depth)
	case isManifest(d.MediaType):
		return e.exportManifest(d)
	}
	return d, false, nil // an artifact has no platform
}

func (e exporter) exportIndex(d ocispec.Descriptor, depth int) (ocispec.Descriptor, bool, error) {
	if depth >= maxIndexDepth {
		return d, false, fmt.Errorf("%w: indexes nested deeper than %d", ErrInvalidMetadata, maxIndexDepth)
	}
	var index ocispec.Index
	if err := e.r.readJSON(d, &index); err != nil {
		return d, false, err
	}
	var kept []ocispec.Descriptor
	changed := false
	for _, child := range index.Manifests {
		desc, ok, err := e.export(child, depth+1)
		if err != nil {
			return d, false, err
		}
		if ok {
			kept = append(kept, desc)
		}
		changed = changed || !ok || desc.Digest != child.Digest
	}
	if len(kept) == 0 {
		return d, false, nil
	}
	if !changed {
		return d, true, e.w.copyBlob(e.r, d)
	}
	index.Manifests = kept
	data, err := json.Marshal(index)
	if err != nil {
		return d, false, err
	}
	written, err := e.w.PutManifest(data, d.MediaType)
	if err != nil {
		return d, false, err
	}
	d.Digest, d.Size = written.Digest, written.Size
	return d, true, nil
}

func (e exporter) exportManifest(d ocispec.Descriptor) (ocispec.Descriptor, bool, error) {
	var m ocispec.Manifest
	if err := e.r.readJSON(d, &m); err != nil {
		return d, false, err
	}
	p, err := e.r.platformOf(d, m.Config)
	if err != nil || p == nil || !e.wants(*p) {
		return d, false, err
	}
	for _, b := range append(m.Layers, m.Config, d) {
		if err := e.w.copyBlob(e.r, b); err != nil {
			return d, false, err
		}
	}
	return d, true, nil
}

func (e exporter) wants(p ocispec.Platform) bool {
	for _, want := range e.platforms {
		if PlatformMatches(want, p) {
			return true
		}
	}
	return false
}

// indexDescriptor is how index.json lists the image: its descriptor, named
// after its first RepoTag when it has no annotations (a docker-save image).
func (img Image) indexDescriptor() ocispec.Descriptor {
	desc := img.Descriptor
	if len(desc.Annotations) == 0 && len(img.repoTags) > 0 {
		desc.Annotations = NameAnnotations(img.repoTags[0])
	}
	return desc
}
