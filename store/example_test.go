package store_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/store"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "store-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.OpenLayoutStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		f, err := os.Open("../testdata/sample.docker.tar") // or os.Stdin, an HTTP body
		if err != nil {
			log.Fatal(err)
		}
		loaded, err := store.Load(st, f, archive.Options{})
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
	cache, err := store.OpenCache(filepath.Join(dir, "cache"))
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
