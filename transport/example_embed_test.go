package transport_test

import (
	"context"
	"fmt"
	"log"

	_ "github.com/ocitar/ocitar/transport" // registers oci-tar:, as in skopeo's cmd/skopeo/main.go
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// A program built on containers/image, such as skopeo, gets oci-tar: from
// the blank import above in any of its packages, and a go.mod that requires
// github.com/ocitar/ocitar. make skopeo SKOPEO_SRC=DIR does this for skopeo
// on a copy of DIR; by hand, in a copy of skopeo's source:
//
//	# add to the import block of cmd/skopeo/main.go:
//	#	_ "github.com/ocitar/ocitar/transport"
//	go mod edit -require=github.com/ocitar/ocitar@v0.0.0-00010101000000-000000000000 \
//	            -replace=github.com/ocitar/ocitar=/path/to/ocitar
//	GOFLAGS=-mod=mod go mod tidy
//	GOFLAGS=-mod=mod go build -tags containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper ./cmd/skopeo
//
// Its references then parse oci-tar: as any other transport, as skopeo
// inspect --raw does here.
func Example_embedding() {
	ctx := context.Background()
	ref, err := alltransports.ParseImageName("oci-tar:../testdata/sample.docker.tar:example.com/ocitar/sample:1")
	if err != nil {
		log.Fatal(err)
	}
	src, err := ref.NewImageSource(ctx, &types.SystemContext{})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	manifest, mediaType, err := src.GetManifest(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ref.Transport().Name(), mediaType, digest.FromBytes(manifest))
	// Output:
	// oci-tar application/vnd.docker.distribution.manifest.v2+json sha256:9ea30e7774193d5a4c21b616e1e7a4d9453c18cc605249563986a33dca5f8707
}
