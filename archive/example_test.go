package archive_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ocitar/ocitar/archive"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func ExampleReader_Resolve() {
	r, err := archive.Open("../testdata/sample-multi.oci.tar", archive.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	sel, err := archive.ParseSelector("example.com/ocitar/multi:1")
	if err != nil {
		log.Fatal(err)
	}
	res, err := r.Resolve(sel, &ocispec.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("manifest:", res.Descriptor.Digest)
	fmt.Println("config:", res.Manifest.Config.Digest, res.Config.Architecture)
	for _, l := range res.Manifest.Layers {
		fmt.Println("layer:", l.Digest, l.Size)
	}
	// Output:
	// manifest: sha256:a1780c1c276f2ec40cdf35ebce69c6b2835a9973a5bef0a0cf149a586f3d0137
	// config: sha256:920f787256c762040aeea198d02301e233cd65dbb0199be28bd00908e0285f5f arm64
	// layer: sha256:e5cd85c23d4d1357a81edff675889392c4b2516342887100f063b73199891b33 1312094
	// layer: sha256:5d76ca3ea1d2282cebaa03865702964fbb8093769d6c7c2df2c642e3bfa4c25b 307
}

func ExampleExport() {
	r, err := archive.Open("../testdata/sample-multi.oci.tar", archive.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer // any io.Writer: a file, a pipe, an HTTP response
	amd64 := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	if err := archive.Export(&out, r, r.Images()[0], amd64); err != nil {
		log.Fatal(err)
	}
	exported, err := archive.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		log.Fatal(err)
	}
	for _, img := range exported.Images() {
		fmt.Println(img, archive.PlatformString(img.Platforms[0]))
	}
	// Output:
	// @0 sha256:bc8fbc16eeea29d37ac399839d96ebdbcd37b434a6fba567b40b236dbd8fbdce (example.com/ocitar/multi:1) linux/amd64
}

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "store-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := archive.OpenLayoutStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		f, err := os.Open("../testdata/sample.docker.tar") // or os.Stdin, an HTTP body
		if err != nil {
			log.Fatal(err)
		}
		loaded, err := archive.Load(store, f, archive.Options{})
		f.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d blobs written, %d present\n", loaded.BlobsWritten, loaded.BlobsPresent)
		for _, img := range loaded.Images {
			fmt.Println(img.Descriptor.Digest, img.Names)
		}
	}
	r, err := archive.OpenDir(dir, archive.Options{}) // skopeo reads it too: oci:DIR:NAME
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, img := range r.Images() {
		fmt.Println(img)
	}
	// Output:
	// 4 blobs written, 0 present
	// sha256:1c7f9bb46039f3b323c04c08c590bb51263c4507aab13f124fb8d53a6dc6cd73 [example.com/ocitar/sample:1]
	// 0 blobs written, 4 present
	// sha256:1c7f9bb46039f3b323c04c08c590bb51263c4507aab13f124fb8d53a6dc6cd73 [example.com/ocitar/sample:1]
	// @0 sha256:1c7f9bb46039f3b323c04c08c590bb51263c4507aab13f124fb8d53a6dc6cd73 (example.com/ocitar/sample:1)
}

func ExampleCache_Resolve() {
	dir, err := os.MkdirTemp("", "cache-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cache, err := archive.OpenCache(filepath.Join(dir, "cache"))
	if err != nil {
		log.Fatal(err)
	}
	fetch := func() (*archive.Reader, archive.Selector, error) {
		fmt.Println("fetching")
		r, err := archive.Open("../testdata/sample-multi.oci.tar", archive.Options{})
		return r, archive.Selector{}, err
	}
	for _, arch := range []string{"amd64", "arm64"} {
		res, err := cache.Resolve("example.com/ocitar/multi:1", &ocispec.Platform{OS: "linux", Architecture: arch}, fetch)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(arch, res.Descriptor.Digest)
	}
	// Output:
	// fetching
	// amd64 sha256:bc8fbc16eeea29d37ac399839d96ebdbcd37b434a6fba567b40b236dbd8fbdce
	// arm64 sha256:a1780c1c276f2ec40cdf35ebce69c6b2835a9973a5bef0a0cf149a586f3d0137
}
