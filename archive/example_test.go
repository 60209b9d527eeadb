package archive_test

import (
	"bytes"
	"fmt"
	"log"

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
	if err := archive.Export(&out, r, r.Images()[0], archive.ExportOptions{
		Name:      "example.com/ocitar/multi:amd64",
		Platforms: []ocispec.Platform{amd64},
	}); err != nil {
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
	// @0 sha256:bc8fbc16eeea29d37ac399839d96ebdbcd37b434a6fba567b40b236dbd8fbdce (example.com/ocitar/multi:amd64) linux/amd64
}
