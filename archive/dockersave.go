package archive

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/internal/hashing"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerSaveItem is one image of a docker-save manifest.json.
type dockerSaveItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// dockerConfig is the part of an image config the docker-save reader needs.
type dockerConfig struct {
	ocispec.Platform
	RootFS struct {
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// dockerManifest is a Docker schema2 manifest, as synthesized for legacy docker-save images.
type dockerManifest struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	Config        ocispec.Descriptor   `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
}

func (r *Reader) readDockerManifest() ([]dockerSaveItem, error) {
	data, err := r.readFile(dockerManifestFile, maxDockerManifestSize)
	if err != nil {
		return nil, err
	}
	var items []dockerSaveItem
	if err := decodeJSON(data, dockerManifestFile, &items); err != nil {
		return nil, err
	}
	return items, nil
}

// loadDockerSave names the images already found after the RepoTags given for
// their configs, and presents every other image as a Docker schema2 image whose
// layers are named by their DiffIDs.
func (r *Reader) loadDockerSave() error {
	items, err := r.readDockerManifest()
	if err != nil {
		return err
	}
	for i, it := range items {
		if err := r.loadDockerSaveItem(it); err != nil {
			if err = fmt.Errorf("%s image %d: %w", dockerManifestFile, i, err); !r.opts.report(err) {
				return err
			}
		}
	}
	return nil
}

func (r *Reader) loadDockerSaveItem(it dockerSaveItem) error {
	configData, config, err := r.readDockerConfig(it.Config)
	if err != nil {
		return err
	}
	configDigest := digest.FromBytes(configData)
	var holders []int
	for j := range r.images {
		if r.images[j].holds(configDigest, it.Layers) {
			holders = append(holders, j)
		}
	}
	if len(holders) > 0 {
		for _, tag := range it.RepoTags {
			r.addRepoTag(holders, tag)
		}
		return nil
	}
	if len(config.RootFS.DiffIDs) != len(it.Layers) {
		return fmt.Errorf("%w: %d layers, but config %s has %d diff_ids", ErrInvalidMetadata, len(it.Layers), it.Config, len(config.RootFS.DiffIDs))
	}
	r.blobs[configDigest] = blobSource{entry: path.Clean(it.Config), size: int64(len(configData))}
	m := dockerManifest{
		SchemaVersion: 2,
		MediaType:     mediaTypeDockerManifest,
		Config:        ocispec.Descriptor{MediaType: mediaTypeDockerConfig, Digest: configDigest, Size: int64(len(configData))},
	}
	for j, layer := range it.Layers {
		diffID := config.RootFS.DiffIDs[j]
		src, err := r.legacyLayer(path.Clean(layer), diffID)
		if err != nil {
			return err
		}
		r.blobs[diffID] = src
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: mediaTypeDockerLayer, Digest: diffID, Size: src.size})
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	d := ocispec.Descriptor{MediaType: mediaTypeDockerManifest, Digest: digest.FromBytes(data), Size: int64(len(data))}
	r.synthetic[d.Digest] = data
	r.types[d.Digest] = mediaTypeDockerManifest
	t := &tree{seen: map[digest.Digest]bool{}}
	for _, l := range m.Layers {
		t.add(l)
	}
	t.add(m.Config)
	t.add(d)
	img := newImage(len(r.images), d, []ocispec.Platform{config.Platform}, nil, t.blobs)
	img.Names = appendNames(nil, it.RepoTags...)
	img.repoTags = img.Names
	img.Synthesized = true
	r.images = append(r.images, img)
	return nil
}

func (r *Reader) readDockerConfig(name string) ([]byte, dockerConfig, error) {
	var config dockerConfig
	data, err := r.readFile(path.Clean(name), maxConfigSize)
	if err != nil {
		return nil, config, fmt.Errorf("config: %w", err)
	}
	if err := decodeJSON(data, "config "+name, &config); err != nil {
		return nil, config, err
	}
	return data, config, nil
}

// legacyLayer locates a docker-save layer file. A layer stored compressed is
// decompressed once here, to learn its size and check it against its DiffID.
func (r *Reader) legacyLayer(name string, diffID digest.Digest) (blobSource, error) {
	stored, size, err := r.files.open(name)
	if err != nil {
		return blobSource{}, fmt.Errorf("layer: %w", err)
	}
	defer stored.Close()
	stream, c, err := compression.OpenDecompressed(stored, 4096, r.opts.maxSpoolRatio())
	if err != nil {
		return blobSource{}, fmt.Errorf("layer %s: %w", name, err)
	}
	src := blobSource{entry: name, decompress: c, size: size}
	if c == compression.Uncompressed {
		return src, stream.Close()
	}
	v, err := hashing.NewVerified(stream, "layer "+name, diffID, -1)
	if err != nil {
		return blobSource{}, err
	}
	defer v.Close()
	if src.size, err = io.Copy(io.Discard, v); err != nil {
		return blobSource{}, err
	}
	return src, nil
}

// addRepoTag names images after a RepoTag of theirs: those among holders that
// index.json already names so, else all of them.
func (r *Reader) addRepoTag(holders []int, tag string) {
	named := slices.DeleteFunc(slices.Clone(holders), func(j int) bool {
		return !slices.ContainsFunc(r.images[j].Names, func(n string) bool { return nameMatches(tag, n) })
	})
	if len(named) == 0 {
		named = holders
	}
	for _, j := range named {
		r.images[j].Names = appendNames(r.images[j].Names, tag)
		r.images[j].repoTags = appendNames(r.images[j].repoTags, tag)
	}
}

// holds reports whether the image has a manifest with config and the layers
// at layerPaths. Layers stored outside blobs/ are not compared.
func (img Image) holds(config digest.Digest, layerPaths []string) bool {
	var layers []digest.Digest
	for _, p := range layerPaths {
		parts := strings.Split(path.Clean(p), "/")
		if len(parts) != 3 || parts[0] != blobsDir {
			layers = nil
			break
		}
		layers = append(layers, digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2]))
	}
	return slices.ContainsFunc(img.contents, func(c content) bool {
		return c.config == config && (layers == nil || slices.Equal(c.layers, layers))
	})
}

// appendNames adds the non-empty names not yet in names.
func appendNames(names []string, add ...string) []string {
	for _, n := range add {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}
