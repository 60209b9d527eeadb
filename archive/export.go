package archive

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ExportOptions say what Export writes.
type ExportOptions struct {
	// Name lists the image under this name, as a Writer's caller names an
	// image: org.opencontainers.image.ref.name, and, for a docker reference
	// with a tag, io.containerd.image.name and docker's RepoTag. "" keeps the
	// image's own names.
	Name string
	// Format is FormatHybrid (the zero value), which adds docker's
	// manifest.json when one manifest is written, so docker load reads the
	// stream too; or FormatOCI, the OCI layout alone.
	Format Format
	// Platforms limits the manifests written to these; none writes all of the image.
	Platforms []ocispec.Platform
}

// Export writes img of r as an image tar to out, which may be a pipe.
// Without platforms, all of img that r holds is written; an index listing
// manifests r lacks (docker save writes such) is rewritten to list only the
// others. With platforms, only the manifests for those platforms are written:
// one is listed in index.json by itself, with the image's annotations and its
// platform; several are listed by the image's index, rewritten to list only
// them, its annotations kept. An image with none of them is an error wrapping
// ErrNoMatch; a Name that is not a valid image name is refused, wrapping
// ErrBadSelector, before anything is written. Every blob is verified as it
// is written. Export does not close out.
func Export(out io.Writer, r *Reader, img Image, opts ExportOptions) error {
	if opts.Name != "" {
		if err := ValidateRefName(opts.Name); err != nil {
			return fmt.Errorf("%s: exporting image %s: %w", r.name, img, err)
		}
	}
	w := NewWriter(out, WriterOptions{Format: opts.Format})
	e := exporter{w: w, r: r, platforms: opts.Platforms, indexes: map[digest.Digest]exportedIndex{}}
	desc, err := e.exportImage(img)
	if err != nil {
		return fmt.Errorf("%s: image %s: %w", r.name, img, err)
	}
	repoTags := img.DockerTags()
	if opts.Name != "" {
		desc.Annotations, repoTags = renamed(desc.Annotations, opts.Name)
	}
	if err := w.AddImage(desc, repoTags); err != nil {
		return err
	}
	return w.Close()
}

// renamed are the annotations of an image listed as name, its other names
// dropped, and the RepoTags that name it for docker.
func renamed(annotations map[string]string, name string) (map[string]string, []string) {
	a := NameAnnotations(name)
	for k, v := range annotations {
		if _, isName := a[k]; !isName && k != AnnotationContainerdImageName {
			a[k] = v
		}
	}
	if tag, ok := RepoTag(name); ok {
		return a, []string{tag}
	}
	return a, nil
}

// exportImage writes what the platforms need of img and returns how index.json lists it.
func (e exporter) exportImage(img Image) (ocispec.Descriptor, error) {
	if len(e.platforms) == 0 {
		return e.exportHeld(img)
	}
	found, err := e.r.platformManifests(img.Descriptor)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	wanted := slices.DeleteFunc(slices.Clone(found), func(pm platformManifest) bool { return !e.wants(&pm.platform) })
	switch len(wanted) {
	case 0:
		return ocispec.Descriptor{}, fmt.Errorf("%w platform %s; it holds %s", ErrNoMatch, listPlatforms(e.platforms), listPlatforms(platformsOf(found)))
	case 1:
		if _, _, err := e.exportManifest(wanted[0].desc); err != nil {
			return ocispec.Descriptor{}, err
		}
		desc := wanted[0].desc
		desc.Annotations, desc.Platform = img.indexDescriptor().Annotations, &wanted[0].platform
		return desc, nil
	}
	return e.exportHeld(img)
}

// exportHeld writes what img reaches for the platforms and returns how
// index.json lists it: its indexes rewritten when some of what they list is left out.
func (e exporter) exportHeld(img Image) (ocispec.Descriptor, error) {
	desc, kept, err := e.export(img.Descriptor, 0)
	if err == nil && !kept {
		err = fmt.Errorf("%w: the archive holds nothing it lists", ErrMissingBlob)
	}
	img.Descriptor = desc
	return img.indexDescriptor(), err
}

// exporter writes the manifests of an image for a set of platforms, or all
// of them when there is none.
type exporter struct {
	w         *Writer
	r         *Reader
	platforms []ocispec.Platform
	indexes   map[digest.Digest]exportedIndex // by the digest of the original
}

// exportedIndex is what export made of an index: the one it wrote, if it kept any of it.
type exportedIndex struct {
	digest digest.Digest
	size   int64
	kept   bool
}

// export writes what d reaches for the platforms and returns the descriptor
// to list it by, and whether anything of it was kept.
func (e exporter) export(d ocispec.Descriptor, depth int) (ocispec.Descriptor, bool, error) {
	switch {
	case !e.r.holds(d):
		return d, false, nil
	case IsIndex(d.MediaType):
		return e.exportIndex(d, depth)
	case IsManifest(d.MediaType):
		return e.exportManifest(d)
	case len(e.platforms) == 0:
		return d, true, e.w.copyBlob(e.r, d)
	}
	return d, false, nil // an artifact has no platform
}

// exportIndex exports an index once, however many indexes list it.
func (e exporter) exportIndex(d ocispec.Descriptor, depth int) (ocispec.Descriptor, bool, error) {
	x, ok := e.indexes[d.Digest]
	if !ok {
		written, kept, err := e.rewriteIndex(d, depth)
		if err != nil {
			return d, false, err
		}
		x = exportedIndex{digest: written.Digest, size: written.Size, kept: kept}
		e.indexes[d.Digest] = x
	}
	d.Digest, d.Size = x.digest, x.size
	return d, x.kept, nil
}

// rewriteIndex writes what index d lists for the platforms and the index
// listing it: d itself when nothing was left out.
func (e exporter) rewriteIndex(d ocispec.Descriptor, depth int) (ocispec.Descriptor, bool, error) {
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
	if err != nil || !e.wants(p) {
		return d, false, err
	}
	for _, b := range append(m.Layers, m.Config, d) {
		if err := e.w.copyBlob(e.r, b); err != nil {
			return d, false, err
		}
	}
	return d, true, nil
}

// wants reports whether a manifest for p, nil when it declares none, is exported.
func (e exporter) wants(p *ocispec.Platform) bool {
	if len(e.platforms) == 0 {
		return true
	}
	if p == nil {
		return false
	}
	for _, want := range e.platforms {
		if PlatformMatches(want, *p) {
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
