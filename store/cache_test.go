package store

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/ocitar/ocitar/archive"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCacheResolve(t *testing.T) {
	src, err := archive.Open("../testdata/sample-multi.oci.tar", archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	fetches := 0
	fetch := func() (*archive.Reader, archive.Selector, error) {
		fetches++
		r, err := archive.Open("../testdata/sample-multi.oci.tar", archive.Options{})
		return r, archive.Selector{}, err
	}
	failing := func() (*archive.Reader, archive.Selector, error) {
		fetches++
		return nil, archive.Selector{}, errors.New("the source is gone")
	}
	const name = "example.com/ocitar/multi:1"
	tests := []struct {
		name    string
		arch    string
		fetch   Fetch
		fetches int // after the call
		err     error
	}{
		{"first, fetched", "amd64", fetch, 1, nil},
		{"second, cached", "arm64", failing, 1, nil},
		{"cached, platform missing", "s390x", failing, 1, archive.ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			platform := &ocispec.Platform{OS: "linux", Architecture: tt.arch}
			got, err := c.Resolve(name, platform, tt.fetch)
			if fetches != tt.fetches {
				t.Errorf("%d fetches, want %d", fetches, tt.fetches)
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
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
			for _, l := range got.Manifest.Layers {
				if _, ok, err := c.StatBlob(l.Digest); !ok || err != nil {
					t.Errorf("layer %s not in the cache: %v", l.Digest, err)
				}
			}
		})
	}
	if _, err := c.Resolve("example.com/other:1", nil, failing); err == nil || fetches != 2 {
		t.Errorf("resolving a name the cache lacks with a failing source: %v after %d fetches", err, fetches)
	}
	if images, _ := c.Images(); len(images) != 1 {
		t.Errorf("the cache lists %v, want the one image fetched", images)
	}
}

func TestCacheResolveStoresAsLoad(t *testing.T) {
	for _, path := range []string{
		"../testdata/sample-multi.oci.tar",
		"../testdata/sample.docker.tar",
		"../testdata/peers/a-docker-2layer.docker20.tar",
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			loaded, err := Load(openStore(t), streamOf(t, path), archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := OpenCache(filepath.Join(t.TempDir(), "cache"))
			if err != nil {
				t.Fatal(err)
			}
			const name = "example.com/cached:1"
			platform := &ocispec.Platform{OS: "linux", Architecture: "amd64"}
			_, err = c.Resolve(name, platform, func() (*archive.Reader, archive.Selector, error) {
				r, err := archive.Open(path, archive.Options{})
				return r, archive.Selector{}, err
			})
			if err != nil {
				t.Fatal(err)
			}
			images, err := c.Images()
			if err != nil || len(images) != 1 {
				t.Fatalf("the cache lists %v, %v", images, err)
			}
			want := loaded.Images[0].Descriptor
			if got := images[0]; got.Digest != want.Digest || got.MediaType != want.MediaType {
				t.Errorf("the cache lists %s %s, Load %s %s", got.MediaType, got.Digest, want.MediaType, want.Digest)
			}
		})
	}
}
