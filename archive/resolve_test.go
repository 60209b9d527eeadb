package archive

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func withPlatform(d ocispec.Descriptor, os, arch, variant string) ocispec.Descriptor {
	d.Platform = &ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
	return d
}

// multiPlatform is a layout with an index of amd64, arm64/v8 and arm/v6 images named "multi",
// and a single amd64 image named "single"; it returns the manifests by platform.
func multiPlatform(t *testing.T) (*Reader, map[string]ocispec.Descriptor) {
	b := &testimage.Layout{}
	ms := map[string]ocispec.Descriptor{
		"linux/amd64":    withPlatform(b.Image("amd64", "layer amd64"), "linux", "amd64", ""),
		"linux/arm64/v8": withPlatform(b.Image("arm64", "layer arm64"), "linux", "arm64", "v8"),
		"linux/arm/v6":   withPlatform(b.Image("arm", "layer arm"), "linux", "arm", "v6"),
	}
	idx := indexOf(ms["linux/amd64"], ms["linux/arm64/v8"], ms["linux/arm/v6"])
	idx.MediaType = ocispec.MediaTypeImageIndex
	idx.SchemaVersion = 2
	index := b.JSONBlob(ocispec.MediaTypeImageIndex, idx)
	ms["single"] = b.Image("amd64", "layer single")
	b.Index(testimage.Named(index, "multi"), testimage.Named(ms["single"], "single"))
	r, err := Open(writeFile(t, "multi.tar", b.Tar(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, ms
}

func TestReaderResolve(t *testing.T) {
	r, ms := multiPlatform(t)
	tests := []struct {
		selector string
		platform *ocispec.Platform
		want     string // key of ms
		err      error
	}{
		{"multi", &ocispec.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64", nil},
		{"multi", &ocispec.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64/v8", nil},
		{"multi", &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, "linux/arm64/v8", nil},
		{"multi", &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, "linux/arm/v6", nil},
		{"multi", &ocispec.Platform{OS: "linux", Architecture: "arm"}, "", ErrNoMatch},
		{"multi", &ocispec.Platform{OS: "linux", Architecture: "s390x"}, "", ErrNoMatch},
		{"single", nil, "single", nil},
		{"single", &ocispec.Platform{OS: "linux", Architecture: "amd64"}, "single", nil},
		{"single", &ocispec.Platform{OS: "linux", Architecture: "arm64"}, "", ErrNoMatch},
		{"absent", nil, "", ErrNoMatch},
	}
	for _, tt := range tests {
		name := tt.selector
		if tt.platform != nil {
			name += " " + PlatformString(*tt.platform)
		}
		t.Run(name, func(t *testing.T) {
			sel, err := ParseSelector(tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Resolve(sel, tt.platform)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := ms[tt.want]
			if res.Descriptor.Digest != want.Digest {
				t.Errorf("manifest %s, want %s", res.Descriptor.Digest, want.Digest)
			}
			if len(res.Manifest.Layers) != 1 || res.Config.RootFS.DiffIDs[0] != res.Manifest.Layers[0].Digest {
				t.Errorf("layers %v, config diff_ids %v", res.Manifest.Layers, res.Config.RootFS.DiffIDs)
			}
		})
	}
}

func TestReaderResolveListsPlatforms(t *testing.T) {
	r, _ := multiPlatform(t)
	sel, _ := ParseSelector("multi")
	_, err := r.Resolve(sel, &ocispec.Platform{OS: "linux", Architecture: "s390x"})
	for _, s := range []string{"linux/s390x", "linux/amd64", "linux/arm64/v8", "linux/arm/v6"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v does not name %s", err, s)
		}
	}
}

func TestReaderResolveDockerSave(t *testing.T) {
	r, err := Open("../testdata/sample.docker.tar", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Resolve(Selector{}, &ocispec.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	var layers []digest.Digest
	for _, l := range res.Manifest.Layers {
		layers = append(layers, l.Digest)
	}
	if len(layers) != 2 || strings.Join(digestStrings(layers), ",") != strings.Join(digestStrings(res.Config.RootFS.DiffIDs), ",") {
		t.Errorf("legacy layers %v, want the config's diff_ids %v", layers, res.Config.RootFS.DiffIDs)
	}
	if res.Descriptor.MediaType != mediaTypeDockerManifest {
		t.Errorf("manifest type %s", res.Descriptor.MediaType)
	}
}

func digestStrings(ds []digest.Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// sharedIndexes is a layout whose image is an index listing the same index
// twice, itself listing another twice, down to one manifest.
func sharedIndexes(t *testing.T) []byte {
	b := &testimage.Layout{}
	d := withPlatform(b.Image("amd64", "the layer"), "linux", "amd64", "")
	for range maxIndexDepth - 1 {
		idx := indexOf(d, d)
		idx.MediaType, idx.SchemaVersion = ocispec.MediaTypeImageIndex, 2
		d = b.JSONBlob(ocispec.MediaTypeImageIndex, idx)
	}
	b.Index(testimage.Named(d, "shared"))
	return b.Tar(t)
}

func TestReaderReadsSharedIndexesOnce(t *testing.T) {
	data := sharedIndexes(t)
	ra := &countingReaderAt{ra: bytes.NewReader(data)}
	r, err := NewReader(ra, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if n := ra.n; n > int64(len(data)) {
		t.Errorf("opening read %d bytes of a %d-byte archive", n, len(data))
	}
	amd64 := &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	tests := []struct {
		name string
		run  func() error
	}{
		{"Resolve", func() error { _, err := r.Resolve(Selector{}, amd64); return err }},
		{"Export", func() error { return Export(io.Discard, r, r.Images()[0], ExportOptions{}) }},
		{"Export amd64", func() error {
			return Export(io.Discard, r, r.Images()[0], ExportOptions{Platforms: []ocispec.Platform{*amd64}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ra.n = 0
			if err := tt.run(); err != nil {
				t.Fatal(err)
			}
			if n := ra.n; n > int64(len(data)) {
				t.Errorf("read %d bytes of a %d-byte archive", n, len(data))
			}
		})
	}
}
