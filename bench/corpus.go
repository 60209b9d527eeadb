package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// blob is a blob of the corpus: its content is a file of the work dir, or data.
type blob struct {
	desc ocispec.Descriptor
	path string
	data []byte
}

// corpusImage is an image whose layers exist uncompressed and gzip-compressed.
type corpusImage struct {
	name    string
	config  blob
	layers  []blob // uncompressed
	gzipped []blob // the same layers, gzip-compressed; nil when not generated
}

// imageSpec describes a generated image: layers of size/len(contents) bytes each.
type imageSpec struct {
	name     string
	size     int64
	contents []testimage.Content
	gzip     bool
}

// mixed is the content of the main image: half text, half random.
var mixed = []testimage.Content{testimage.Text, testimage.Random, testimage.Text, testimage.Random, testimage.Text, testimage.Random, testimage.Text, testimage.Random}

// cheap is the content of the memory series: fast to generate at any size.
var cheap = []testimage.Content{testimage.Repeated, testimage.Repeated, testimage.Repeated, testimage.Repeated, testimage.Repeated, testimage.Repeated, testimage.Repeated, testimage.Repeated}

// generate writes the layers of spec into dir/layers, two at a time, and returns the image.
func generate(dir string, spec imageSpec) (corpusImage, error) {
	img := corpusImage{name: spec.name, layers: make([]blob, len(spec.contents))}
	if spec.gzip {
		img.gzipped = make([]blob, len(spec.contents))
	}
	errs := make([]error, len(spec.contents))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, c := range spec.contents {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			base := filepath.Join(dir, "layers", fmt.Sprintf("%s-%d", safeName(spec.name), i))
			ls := testimage.LayerSpec{Seed: uint64(i + 1), Size: spec.size / int64(len(spec.contents)), Content: c}
			img.layers[i], errs[i] = writeBlobFile(base+".tar", ocispec.MediaTypeImageLayer, func(w io.Writer) error { return testimage.WriteLayer(w, ls) })
			if errs[i] == nil && spec.gzip {
				img.gzipped[i], errs[i] = writeBlobFile(base+".tar.gz", ocispec.MediaTypeImageLayerGzip, func(w io.Writer) error { return gzipFile(w, img.layers[i].path) })
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return img, err
		}
	}
	img.config = configBlob(img.layers)
	return img, nil
}

func safeName(name string) string {
	return strings.NewReplacer("/", "_", ":", "_").Replace(name)
}

// writeBlobFile writes what write produces to path and describes it.
func writeBlobFile(path, mediaType string, write func(io.Writer) error) (blob, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return blob{}, err
	}
	f, err := os.Create(path)
	if err != nil {
		return blob{}, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	if err := write(cw); err != nil {
		return blob{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return blob{}, err
	}
	return blob{desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.NewDigest(digest.SHA256, h), Size: cw.n}, path: path}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func gzipFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(w)
	zw.ModTime = time.Unix(0, 0)
	if _, err := io.Copy(zw, f); err != nil {
		return err
	}
	return zw.Close()
}

func jsonBlob(mediaType string, v any) blob {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs are marshalled
	}
	return blob{desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, data: data}
}

func configBlob(layers []blob) blob {
	created := testimage.Created
	config := ocispec.Image{Created: &created, Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers"}}
	for _, l := range layers {
		config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, l.desc.Digest)
		config.History = append(config.History, ocispec.History{Created: &created, CreatedBy: "ADD " + l.desc.Digest.Encoded()[:12]})
	}
	return jsonBlob(ocispec.MediaTypeImageConfig, config)
}

func (img corpusImage) layersOf(gzipped bool) []blob {
	if gzipped {
		return img.gzipped
	}
	return img.layers
}

func (img corpusImage) manifest(gzipped bool) blob {
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: img.config.desc, Layers: []ocispec.Descriptor{}}
	m.SchemaVersion = 2
	for _, l := range img.layersOf(gzipped) {
		m.Layers = append(m.Layers, l.desc)
	}
	return jsonBlob(ocispec.MediaTypeImageManifest, m)
}

// tarFile writes a tar to a temporary file beside path and renames it into place.
type tarFile struct {
	path string
	f    *os.File
	tw   *tar.Writer
}

func createTar(path string) (*tarFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, err
	}
	return &tarFile{path: path, f: f, tw: tar.NewWriter(f)}, nil
}

func (t *tarFile) dir(name string) error {
	return t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755})
}

func (t *tarFile) blob(name string, b blob) error {
	if err := t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: b.desc.Size}); err != nil {
		return err
	}
	if b.path == "" {
		_, err := t.tw.Write(b.data)
		return err
	}
	f, err := os.Open(b.path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(t.tw, f)
	return err
}

func (t *tarFile) finish(err error) error {
	defer os.Remove(t.f.Name()) // fails harmlessly once renamed
	if err == nil {
		err = t.tw.Close()
	}
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(t.f.Name(), t.path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", t.path, err)
	}
	return nil
}

// writeOCI writes images as an OCI layout tar, each blob once, each image
// listed in index.json under its name.
func writeOCI(path string, gzipped bool, images ...corpusImage) error {
	t, err := createTar(path)
	if err != nil {
		return err
	}
	return t.finish(t.writeOCI(gzipped, images))
}

func (t *tarFile) writeOCI(gzipped bool, images []corpusImage) error {
	layout := jsonBlob("", ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := t.blob(ocispec.ImageLayoutFile, layout); err != nil {
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := t.dir(d); err != nil {
			return err
		}
	}
	written := map[digest.Digest]bool{}
	put := func(b blob) error {
		if written[b.desc.Digest] {
			return nil
		}
		written[b.desc.Digest] = true
		return t.blob("blobs/sha256/"+b.desc.Digest.Encoded(), b)
	}
	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex}
	index.SchemaVersion = 2
	for _, img := range images {
		m := img.manifest(gzipped)
		for _, b := range append(img.layersOf(gzipped), img.config, m) {
			if err := put(b); err != nil {
				return err
			}
		}
		d := m.desc
		d.Annotations = map[string]string{ocispec.AnnotationRefName: img.name, testimage.AnnotationContainerdImageName: img.name}
		index.Manifests = append(index.Manifests, d)
	}
	return t.blob(ocispec.ImageIndexFile, jsonBlob("", index))
}

// writeDockerSave writes images as a legacy docker-save tar: <id>/layer.tar
// (gzip-compressed when gzipped, as docker-archive: and ocitar accept),
// <config>.json, manifest.json and repositories.
func writeDockerSave(path string, gzipped bool, images ...corpusImage) error {
	t, err := createTar(path)
	if err != nil {
		return err
	}
	return t.finish(t.writeDockerSave(gzipped, images))
}

type dockerSaveItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func (t *tarFile) writeDockerSave(gzipped bool, images []corpusImage) error {
	var items []dockerSaveItem
	repos := map[string]map[string]string{}
	written := map[string]bool{}
	for _, img := range images {
		item := dockerSaveItem{Config: img.config.desc.Digest.Encoded() + ".json", RepoTags: []string{img.name}}
		parent := ""
		for i, l := range img.layersOf(gzipped) {
			sum := sha256.Sum256([]byte(parent + " " + img.layers[i].desc.Digest.String()))
			id := hex.EncodeToString(sum[:])
			item.Layers = append(item.Layers, id+"/layer.tar")
			if !written[id] {
				written[id] = true
				if err := t.dir(id + "/"); err != nil {
					return err
				}
				if err := t.blob(id+"/layer.tar", l); err != nil {
					return err
				}
			}
			parent = id
		}
		if err := t.blob(item.Config, img.config); err != nil {
			return err
		}
		repo, tag, _ := strings.Cut(img.name, ":")
		repos[repo] = map[string]string{tag: parent}
		items = append(items, item)
	}
	if err := t.blob("manifest.json", jsonBlob("", items)); err != nil {
		return err
	}
	return t.blob("repositories", jsonBlob("", repos))
}

// manyImages is count images of ten tiny layers each, the layers of image i
// being layers 8i to 8i+9 of a pool: neighbours share two layers, and the
// archive holds 8*count layers, count configs and count manifests.
func manyImages(count int) []corpusImage {
	pool := make([]blob, 8*count)
	for i := range pool {
		data := fmt.Appendf(nil, "layer %d\n", i)
		pool[i] = blob{desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}, data: data}
	}
	images := make([]corpusImage, count)
	for i := range images {
		for j := range 10 {
			images[i].layers = append(images[i].layers, pool[(8*i+j)%len(pool)])
		}
		images[i].name = fmt.Sprintf("example.com/bench/many:%d", i)
		images[i].config = configBlob(images[i].layers)
	}
	return images
}
