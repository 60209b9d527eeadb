package rootfs_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/rootfs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// sampleImage opens the project's sample docker-save archive and reads the
// manifest and config of its only image.
func sampleImage() (*archive.Reader, ocispec.Manifest, ocispec.Image) {
	r, err := archive.Open("../testdata/sample.docker.tar", archive.Options{})
	if err != nil {
		log.Fatal(err)
	}
	data, _, err := r.Manifest(r.Images()[0].Descriptor.Digest)
	if err != nil {
		log.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		log.Fatal(err)
	}
	blob, _, err := r.OpenBlob(m.Config.Digest)
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Close()
	var config ocispec.Image
	if err := json.NewDecoder(blob).Decode(&config); err != nil {
		log.Fatal(err)
	}
	return r, m, config
}

// OpenLayer lists the entries of the second layer, whiteouts included.
func ExampleOpenLayer() {
	r, m, _ := sampleImage()
	defer r.Close()
	layer, err := rootfs.OpenLayer(r, m.Layers[1])
	if err != nil {
		log.Fatal(err)
	}
	defer layer.Close()
	tr := tar.NewReader(layer)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(hdr.Name)
	}
	// Output:
	// app/
	// app/version
	// etc/
	// etc/.wh.greeting.link
	// etc/greeting
	// opt/
	// opt/old/
	// opt/old/.wh..wh..opq
	// opt/old/c
}

// ExtractLayers writes every layer as an compression.Uncompressed tar named by its DiffID.
func ExampleExtractLayers() {
	r, m, config := sampleImage()
	defer r.Close()
	dir, err := os.MkdirTemp("", "layers")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	files, err := rootfs.ExtractLayers(context.Background(), r, m.Layers, config.RootFS.DiffIDs, dir, rootfs.ExtractOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for i, f := range files {
		rel, _ := filepath.Rel(dir, f.Name())
		fmt.Println(rel == filepath.Join("sha256", config.RootFS.DiffIDs[i].Encoded()))
		f.Close()
	}
	// Output:
	// true
	// true
}

// Unpack applies both layers: the second overrides etc/greeting, whites out
// etc/greeting.link and makes opt/old opaque.
func ExampleUnpack() {
	r, m, config := sampleImage()
	defer r.Close()
	parent, err := os.MkdirTemp("", "unpack")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dir := filepath.Join(parent, "rootfs")
	opts := rootfs.UnpackOptions{DiffIDs: config.RootFS.DiffIDs}
	if err := rootfs.Unpack(context.Background(), r, m.Layers, dir, opts); err != nil {
		log.Fatal(err)
	}
	greeting, err := os.ReadFile(filepath.Join(dir, "etc/greeting"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("etc/greeting: %s", greeting)
	_, err = os.Lstat(filepath.Join(dir, "etc/greeting.link"))
	fmt.Println("etc/greeting.link exists:", err == nil)
	old, err := os.ReadDir(filepath.Join(dir, "opt/old"))
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range old {
		fmt.Println("opt/old/" + e.Name())
	}
	// Output:
	// etc/greeting: overridden
	// etc/greeting.link exists: false
	// opt/old/c
}
