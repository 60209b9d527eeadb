package transport_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/transport"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// An embedder copies between oci-tar: and any other transport with
// copy.Image, as skopeo does. The blank import
//
//	import _ "github.com/ocitar/ocitar/transport"
//
// is all that makes "oci-tar:" parse; this example imports the package by
// name for its other functions. The policy accepts images from the three
// transports used here and rejects any other.
func Example() {
	ctx := context.Background()
	policy, err := signature.NewPolicyFromBytes([]byte(`{
		"default": [{"type": "reject"}],
		"transports": {
			"docker-archive": {"": [{"type": "insecureAcceptAnything"}]},
			"oci-tar":        {"": [{"type": "insecureAcceptAnything"}]},
			"dir":            {"": [{"type": "insecureAcceptAnything"}]}
		}
	}`))
	if err != nil {
		log.Fatal(err)
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Destroy()

	tmp, err := os.MkdirTemp("", "ocitar-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	archivePath := filepath.Join(tmp, "app.tar")
	steps := [][2]string{
		{"docker-archive:../testdata/sample.docker.tar", "oci-tar:" + archivePath + ":example.com/app:1"},
		{"oci-tar:" + archivePath + ":example.com/app:1", "dir:" + filepath.Join(tmp, "app")},
	}
	for _, step := range steps {
		src, err := alltransports.ParseImageName(step[0])
		if err != nil {
			log.Fatal(err)
		}
		dest, err := alltransports.ParseImageName(step[1])
		if err != nil {
			log.Fatal(err)
		}
		manifest, err := copy.Image(ctx, pc, dest, src, &copy.Options{})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s -> %s: manifest %s\n", src.Transport().Name(), dest.Transport().Name(), digest.FromBytes(manifest))
	}
	// Output:
	// docker-archive -> oci-tar: manifest sha256:b452e62bba54ff9985165ad00bb146f17a9da776002118ba75947790053ec800
	// oci-tar -> dir: manifest sha256:b452e62bba54ff9985165ad00bb146f17a9da776002118ba75947790053ec800
}

// ArchiveWriter puts several images into one file, whatever their
// transports: blobs they share are stored once, and the file is renamed into
// place only by Commit.
func ExampleArchiveWriter() {
	ctx := context.Background()
	pc := acceptAnything()
	defer pc.Destroy()
	tmp, err := os.MkdirTemp("", "ocitar-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "images.tar")

	a, err := transport.NewArchiveWriter(nil, path, transport.ArchiveOptions{Replace: true})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close() // removes the unfinished file unless Commit succeeded
	sources := map[string]string{
		"example.com/sample:1": "docker-archive:../testdata/sample.docker.tar",
		"example.com/multi:1":  "oci-tar:../testdata/sample-multi.oci.tar",
	}
	for _, name := range []string{"example.com/sample:1", "example.com/multi:1"} {
		src, err := alltransports.ParseImageName(sources[name])
		if err != nil {
			log.Fatal(err)
		}
		dest, err := a.NewReference(name)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := copy.Image(ctx, pc, dest, src, &copy.Options{ImageListSelection: copy.CopyAllImages}); err != nil {
			log.Fatal(err)
		}
	}
	if err := a.Commit(); err != nil {
		log.Fatal(err)
	}
	printImages(path)
	// Output:
	// [example.com/sample:1] application/vnd.docker.distribution.manifest.v2+json [linux/amd64]
	// [example.com/multi:1] application/vnd.oci.image.index.v1+json [linux/amd64 linux/arm64/v8]
}

// WithOptions sets what a parsed oci-tar: reference cannot say: here a
// destination written as an OCI layout alone, without docker's manifest.json
// (its docker manifest is converted to an OCI one on the way), and a source
// read by copy.Image alone, which checks its blobs itself.
func ExampleWithOptions() {
	ctx := context.Background()
	pc := acceptAnything()
	defer pc.Destroy()
	tmp, err := os.MkdirTemp("", "ocitar-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "app.oci.tar")

	src, err := transport.NewReference("../testdata/sample.docker.tar", "")
	if err != nil {
		log.Fatal(err)
	}
	src = transport.WithOptions(src, transport.Options{ReadByCopyEngine: true})
	dest, err := transport.NewReference(path, "example.com/app:1")
	if err != nil {
		log.Fatal(err)
	}
	dest = transport.WithOptions(dest, transport.Options{Format: archive.FormatOCI})
	if _, err := copy.Image(ctx, pc, dest, src, &copy.Options{}); err != nil {
		log.Fatal(err)
	}
	printImages(path)
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	hasDockerManifest := slices.ContainsFunc(r.Entries(), func(e archive.Entry) bool { return e.Name == "manifest.json" })
	fmt.Println("manifest.json:", hasDockerManifest)
	// Output:
	// [example.com/app:1] application/vnd.oci.image.manifest.v1+json [linux/amd64]
	// manifest.json: false
}

// ImageNames tells the names an image has in its archive, which a source's
// reference may not: here it is chosen by position.
func ExampleImageNames() {
	ref, err := alltransports.ParseImageName("oci-tar:../testdata/sample.docker.tar:@0")
	if err != nil {
		log.Fatal(err)
	}
	src, err := ref.NewImageSource(context.Background(), &types.SystemContext{})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	fmt.Println(transport.ImageNames(src))
	// Output:
	// [example.com/ocitar/sample:1]
}

func acceptAnything() *signature.PolicyContext {
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		log.Fatal(err)
	}
	return pc
}

// printImages lists the images of the archive at path: names, manifest type, platforms.
func printImages(path string) {
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, img := range r.Images() {
		var platforms []string
		for _, p := range img.Platforms {
			platforms = append(platforms, archive.PlatformString(p))
		}
		fmt.Println(img.Names, img.Descriptor.MediaType, platforms)
	}
}
