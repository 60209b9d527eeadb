package transport

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/store"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/types"
)

// TestCacheFetch fills a store.Cache through containers/image from oci-tar:
// references, one platform at a time.
func TestCacheFetch(t *testing.T) {
	const path = "../testdata/sample-multi.oci.tar"
	src, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cache, err := store.OpenCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	var opened []string
	fetch := CacheFetch(nil, func(name string) (types.ImageReference, error) {
		opened = append(opened, name)
		return NewReference(path, name)
	})
	tests := []struct {
		name, arch string
		opened     int // references opened after the call
		err        error
	}{
		{"example.com/ocitar/multi:1", "amd64", 1, nil},
		{"example.com/ocitar/multi:1", "arm64", 2, nil},
		{"example.com/ocitar/multi:1", "amd64", 2, nil},
		{"example.com/ocitar/absent:1", "amd64", 3, archive.ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.arch, func(t *testing.T) {
			platform := &imgspecv1.Platform{OS: "linux", Architecture: tt.arch}
			got, err := cache.Resolve(context.Background(), tt.name, platform, fetch)
			if len(opened) != tt.opened {
				t.Errorf("%d references opened, want %d", len(opened), tt.opened)
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := src.Resolve(archive.Selector{}, platform)
			if err != nil {
				t.Fatal(err)
			}
			if got.Descriptor.Digest != want.Descriptor.Digest || got.Image.Descriptor.Digest != want.Image.Descriptor.Digest {
				t.Errorf("resolved %s in %s, want %s in %s", got.Descriptor.Digest, got.Image.Descriptor.Digest, want.Descriptor.Digest, want.Image.Descriptor.Digest)
			}
		})
	}
}
