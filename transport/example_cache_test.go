package transport_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ocitar/ocitar/store"
	"github.com/ocitar/ocitar/transport"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

func ExampleCacheFetch() {
	// Any containers/image reference: "docker://"+name fetches from a registry.
	fetch := transport.CacheFetch(&types.SystemContext{}, func(name string) (types.ImageReference, error) {
		return alltransports.ParseImageName("oci-tar:../testdata/sample-multi.oci.tar:" + name)
	})
	dir, err := os.MkdirTemp("", "cache-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cache, err := store.OpenCache(dir)
	if err != nil {
		log.Fatal(err)
	}
	arm64 := &imgspecv1.Platform{OS: "linux", Architecture: "arm64"}
	res, err := cache.Resolve(context.Background(), "example.com/ocitar/multi:1", arm64, fetch)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Descriptor.Digest, res.Config.Architecture)
	// Output:
	// sha256:a1780c1c276f2ec40cdf35ebce69c6b2835a9973a5bef0a0cf149a586f3d0137 arm64
}
