package testimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// File is one file of a test archive.
type File struct {
	Name, Body string
}

// Layout assembles small OCI layouts, and archives holding them, for tests.
type Layout struct {
	Files []File
}

// Add adds a file.
func (b *Layout) Add(name string, body []byte) {
	b.Files = append(b.Files, File{name, string(body)})
}

// Blob adds a blob, unless it was added already, and returns its descriptor.
func (b *Layout) Blob(mediaType string, body []byte) ocispec.Descriptor {
	d := digest.FromBytes(body)
	if name := "blobs/sha256/" + d.Encoded(); !slices.ContainsFunc(b.Files, func(f File) bool { return f.Name == name }) {
		b.Add(name, body)
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(body))}
}

// JSONBlob adds v as a JSON blob and returns its descriptor.
func (b *Layout) JSONBlob(mediaType string, v any) ocispec.Descriptor {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b.Blob(mediaType, data)
}

// image adds a config, one layer and a manifest for arch and returns the manifest descriptor.
func (b *Layout) Image(arch, layer string) ocispec.Descriptor {
	l := b.Blob(ocispec.MediaTypeImageLayer, []byte(layer))
	c := b.JSONBlob(ocispec.MediaTypeImageConfig, ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: arch},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{l.Digest}},
	})
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: c, Layers: []ocispec.Descriptor{l}}
	m.SchemaVersion = 2
	return b.JSONBlob(ocispec.MediaTypeImageManifest, m)
}

// Index adds oci-layout and an index.json listing manifests.
func (b *Layout) Index(manifests ...ocispec.Descriptor) {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	data, _ := json.Marshal(idx)
	b.Add(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	b.Add(ocispec.ImageIndexFile, data)
}

// Named is d named name by org.opencontainers.image.ref.name.
func Named(d ocispec.Descriptor, name string) ocispec.Descriptor {
	d.Annotations = map[string]string{ocispec.AnnotationRefName: name}
	return d
}

// Tar is the files as a tar, in the order added.
func (b *Layout) Tar(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range b.Files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
