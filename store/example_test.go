package store_test

import (
	"context"
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
	// Called only for what the cache lacks. transport.CacheFetch fetches
	// from a registry or any containers/image reference instead.
	fetch := func(ctx context.Context, name string) (store.Source, error) {
		fmt.Println("fetching", name)
		r, err := archive.Open("../testdata/sample-multi.oci.tar", archive.Options{})
		if err != nil {
			return nil, err
		}
		return store.ReaderSource(r, archive.Selector{}), nil
	}
	for _, arch := range []string{"amd64", "arm64", "amd64"} {
		platform := &ocispec.Platform{OS: "linux", Architecture: arch}
		res, err := cache.Resolve(context.Background(), "example.com/ocitar/multi:1", platform, fetch)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(arch, res.Descriptor.Digest)
	}
	// Output:
	// fetching example.com/ocitar/multi:1
	// amd64 sha256:bc8fbc16eeea29d37ac399839d96ebdbcd37b434a6fba567b40b236dbd8fbdce
	// fetching example.com/ocitar/multi:1
	// arm64 sha256:a1780c1c276f2ec40cdf35ebce69c6b2835a9973a5bef0a0cf149a586f3d0137
	// amd64 sha256:bc8fbc16eeea29d37ac399839d96ebdbcd37b434a6fba567b40b236dbd8fbdce
}
