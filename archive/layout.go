package archive

import (
	"encoding/json"
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	ociLayoutFile      = ocispec.ImageLayoutFile
	indexFile          = ocispec.ImageIndexFile
	blobsDir           = ocispec.ImageBlobsDir
	dockerManifestFile = "manifest.json"
	repositoriesFile   = "repositories"

	// AnnotationContainerdImageName holds the full image name in archives that
	// docker >= 25 and containerd write.
	AnnotationContainerdImageName = "io.containerd.image.name"
)

// MaxManifestSize is the size of the largest manifest, index or index.json
// the library reads, containers/image's own limit.
const MaxManifestSize = 4 << 20

// Limits on what else is read into memory, the same as containers/image's own.
const (
	maxIndexSize          = MaxManifestSize // index.json, like a manifest
	maxConfigSize         = 4 << 20
	maxDockerManifestSize = 1 << 20 // manifest.json of docker-save
	maxIndexDepth         = 8
)

// Media types of Docker's manifests, which OCI layouts may hold too.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
)

// load reads the archive's metadata: an OCI layout, a docker-save manifest, or
// both, as docker >= 25 writes. Images that manifest.json lists and index.json
// does not (docker save by image ID) are added as docker-save images.
func (r *Reader) load() error {
	r.registerLayoutBlobs()
	hasIndex, hasManifest := r.hasEntry(indexFile), r.hasEntry(dockerManifestFile)
	if !hasIndex && !hasManifest {
		return ErrNoLayout
	}
	if hasIndex {
		if err := r.loadLayout(); err != nil {
			return err
		}
	}
	if hasManifest {
		return r.loadDockerSave()
	}
	return nil
}

// registerLayoutBlobs makes every blobs/<algorithm>/<encoded> entry servable by its digest.
func (r *Reader) registerLayoutBlobs() {
	for _, e := range r.files.entries() {
		if d, ok := layoutBlobDigest(e.Name); ok {
			r.blobs[d] = blobSource{entry: e.Name, size: -1}
		}
	}
}

// layoutBlobDigest is the digest a blobs/<algorithm>/<encoded> name stands for.
func layoutBlobDigest(name string) (digest.Digest, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] != blobsDir {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
	return d, d.Validate() == nil
}

func (r *Reader) loadLayout() error {
	if r.hasEntry(ociLayoutFile) {
		if err := r.checkLayoutVersion(); err != nil {
			return err
		}
	}
	data, err := r.readFile(indexFile, maxIndexSize)
	if err != nil {
		return err
	}
	var index ocispec.Index
	if err := decodeJSON(data, indexFile, &index); err != nil {
		return err
	}
	r.annotations = index.Annotations
	for i, d := range index.Manifests {
		if err := r.loadLayoutImage(d, i); err != nil && !r.opts.report(err) {
			return err
		}
	}
	return nil
}

// loadLayoutImage adds the image of entry i of index.json.
func (r *Reader) loadLayoutImage(d ocispec.Descriptor, i int) error {
	if _, ok := r.blobs[d.Digest]; !ok {
		return fmt.Errorf("%w: %s names %s (entry %d), which the archive lacks", ErrMissingBlob, indexFile, d.Digest, i)
	}
	img, err := r.describe(d, i)
	if err != nil {
		return fmt.Errorf("%s entry %d (%s): %w", indexFile, i, d.Digest, err)
	}
	img.Names = appendNames(img.Names, d.Annotations[ocispec.AnnotationRefName], d.Annotations[AnnotationContainerdImageName])
	r.images = append(r.images, img)
	return nil
}

func (r *Reader) checkLayoutVersion() error {
	data, err := r.readFile(ociLayoutFile, maxIndexSize)
	if err != nil {
		return err
	}
	var layout ocispec.ImageLayout
	if err := decodeJSON(data, ociLayoutFile, &layout); err != nil {
		return err
	}
	if layout.Version != ocispec.ImageLayoutVersion {
		return fmt.Errorf("%w: %s: layout version %q, only %q is known", ErrInvalidMetadata, ociLayoutFile, layout.Version, ocispec.ImageLayoutVersion)
	}
	return nil
}

// tree collects what one top-level descriptor reaches.
type tree struct {
	platforms []ocispec.Platform
	blobs     []ocispec.Descriptor // every blob reached, each once, members before what lists them
	seen      map[digest.Digest]bool
	contents  []content
	types     map[digest.Digest]string // media types of manifests and indexes
	depth     int                      // indexes being walked
}

// describe walks one top-level descriptor of index.json into an Image.
func (r *Reader) describe(d ocispec.Descriptor, position int) (Image, error) {
	t := &tree{seen: map[digest.Digest]bool{}, types: r.types}
	if err := r.walk(d, t, true); err != nil {
		return Image{}, err
	}
	return newImage(position, d, t.platforms, t.contents, t.blobs), nil
}

// add records a blob the first time it is reached.
func (t *tree) add(d ocispec.Descriptor) {
	if !t.seen[d.Digest] {
		t.seen[d.Digest] = true
		t.blobs = append(t.blobs, d)
	}
}

func (r *Reader) walk(d ocispec.Descriptor, t *tree, required bool) error {
	if t.seen[d.Digest] {
		return nil // listed twice: walked already
	}
	if _, ok := r.blobs[d.Digest]; !ok {
		if required {
			return fmt.Errorf("%w: %s", ErrMissingBlob, d.Digest)
		}
		return nil // an index member that was not exported, as docker save writes for other platforms
	}
	var err error
	switch {
	case IsIndex(d.MediaType):
		err = r.walkIndex(d, t)
	case IsManifest(d.MediaType):
		err = r.walkManifest(d, t)
	} // anything else is an artifact or a type this reader does not know: listed, not followed
	t.add(d)
	return err
}

func (r *Reader) walkIndex(d ocispec.Descriptor, t *tree) error {
	// Every index is verified before its members are read, so no index can
	// include itself: that would need a digest of its own content inside it.
	if t.depth >= maxIndexDepth {
		return fmt.Errorf("%w: indexes nested deeper than %d", ErrInvalidMetadata, maxIndexDepth)
	}
	var index ocispec.Index
	if err := r.readJSON(d, &index); err != nil {
		return err
	}
	t.types[d.Digest] = d.MediaType
	t.depth++
	defer func() { t.depth-- }()
	for _, child := range index.Manifests {
		if err := r.walk(child, t, false); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) walkManifest(d ocispec.Descriptor, t *tree) error {
	var m ocispec.Manifest
	if err := r.readJSON(d, &m); err != nil {
		return err
	}
	t.types[d.Digest] = d.MediaType
	c := content{config: m.Config.Digest}
	for _, l := range m.Layers {
		t.add(l)
		c.layers = append(c.layers, l.Digest)
	}
	t.add(m.Config)
	t.contents = append(t.contents, c)
	p, err := r.platformOf(d, m.Config)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if p != nil {
		t.platforms = append(t.platforms, *p)
	}
	return nil
}

// platformOf is the platform a descriptor declares, else the one of the image config.
func (r *Reader) platformOf(d ocispec.Descriptor, config ocispec.Descriptor) (*ocispec.Platform, error) {
	if d.Platform != nil {
		return d.Platform, nil
	}
	if config.MediaType != ocispec.MediaTypeImageConfig && config.MediaType != mediaTypeDockerConfig {
		return nil, nil
	}
	if _, ok := r.blobs[config.Digest]; !ok {
		return nil, fmt.Errorf("%w: config %s", ErrMissingBlob, config.Digest)
	}
	c, err := r.readConfig(config)
	if err != nil {
		return nil, err
	}
	return &c.Platform, nil
}

// decodeJSON parses the metadata file or blob what.
func decodeJSON(data []byte, what string, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidMetadata, what, err)
	}
	return nil
}
