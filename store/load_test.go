package store

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// streamOf reads the file at path as a stream that cannot seek.
func streamOf(t *testing.T, path string) io.Reader {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return struct{ io.Reader }{bytes.NewReader(data)}
}

func gzipped(t *testing.T, path string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.Copy(zw, streamOf(t, path)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestLoad(t *testing.T) {
	tests := []struct {
		archive string
		gzip    bool
	}{
		{"../testdata/sample-multi.oci.tar", false},
		{"../testdata/sample.docker.tar", false},
		{"../testdata/sample.docker.tar", true},
		{"../testdata/peers/a-docker-2layer.docker20.tar", false},
		{"../testdata/peers/a-docker-2layer.crane-tarball.tar", false},
		{"../testdata/peers/c-oci-multi.skopeo.tar", false},
		{"../testdata/peers/h-hello-world-docker25.ggcr-fixture.tar", false},
	}
	for _, tt := range tests {
		name := filepath.Base(tt.archive)
		if tt.gzip {
			name += ".gz"
		}
		t.Run(name, func(t *testing.T) {
			want, err := archive.Open(tt.archive, archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			s := openStore(t)
			stream := func() io.Reader {
				if tt.gzip {
					return gzipped(t, tt.archive)
				}
				return streamOf(t, tt.archive)
			}
			first, err := Load(s, stream(), archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			second, err := Load(s, stream(), archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if first.BlobsWritten == 0 || second.BlobsWritten != 0 || second.BlobsPresent < first.BlobsWritten {
				t.Errorf("blobs written %d then %d, present the second time %d; want some, then none", first.BlobsWritten, second.BlobsWritten, second.BlobsPresent)
			}
			got, err := archive.OpenDir(s.Dir(), archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			for i, img := range want.Images() {
				loaded := first.Images[i]
				if loaded.Descriptor.Digest != img.Descriptor.Digest && !img.Synthesized || !slices.Equal(loaded.Names, img.Names) {
					t.Errorf("loaded %+v, want %s %v", loaded, img.Descriptor.Digest, img.Names)
				}
				stored, err := got.Select(digestSelector(t, loaded.Descriptor.Digest))
				if err != nil {
					t.Fatal(err)
				}
				if len(stored.Blobs) != len(img.Blobs) || archive.PlatformString(stored.Platforms[0]) != archive.PlatformString(img.Platforms[0]) {
					t.Errorf("the store's image has %d blobs for %v; the archive's %d for %v", len(stored.Blobs), stored.Platforms, len(img.Blobs), img.Platforms)
				}
				wantRes, err := want.Resolve(digestSelector(t, img.Descriptor.Digest), &img.Platforms[0])
				if err != nil {
					t.Fatal(err)
				}
				gotRes, err := got.Resolve(digestSelector(t, loaded.Descriptor.Digest), &img.Platforms[0])
				if err != nil {
					t.Fatal(err)
				}
				if gotRes.Manifest.Config.Digest != wantRes.Manifest.Config.Digest || !slices.Equal(layerDigests(gotRes), layerDigests(wantRes)) {
					t.Errorf("the store resolves to %v, the archive to %v", gotRes.Manifest, wantRes.Manifest)
				}
			}
			storeFiles(t, s)
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	b := &testimage.Layout{}
	b.Index(testimage.Named(b.Image("amd64", "the layer"), "x"))
	layer := "blobs/sha256/" + digest.FromString("the layer").Encoded()
	for i, f := range b.Files {
		if f.Name == layer {
			b.Files[i].Body = "the LAYER"
		}
	}
	tests := []struct {
		name   string
		stream []byte
		err    error
	}{
		{"blob failing its digest", b.Tar(t), archive.ErrDigestMismatch},
		{"an image lacking a layer after a whole one", lackingLayer(t), archive.ErrMissingBlob},
		{"not a tar", []byte("not a tar at all, not even close to 512 bytes"), archive.ErrNotArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			if _, err := Load(s, bytes.NewReader(tt.stream), archive.Options{}); !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			if images, err := s.Images(); err != nil || len(images) != 0 {
				t.Errorf("the store lists %v, %v; want nothing", images, err)
			}
			for _, name := range storeFiles(t, s) {
				if name == digest.FromString("the layer").Encoded() {
					t.Errorf("the corrupt layer was stored")
				}
			}
		})
	}
}

func layerDigests(res archive.Resolved) []digest.Digest {
	var out []digest.Digest
	for _, l := range res.Manifest.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// lackingLayer is an OCI layout tar of two images: the first whole, the second
// without its layer.
func lackingLayer(t *testing.T) []byte {
	b := &testimage.Layout{}
	whole := b.Image("amd64", "whole layer")
	other := &testimage.Layout{}
	lacking := other.Image("amd64", "absent layer")
	for _, f := range other.Files {
		if f.Body != "absent layer" {
			b.Files = append(b.Files, f)
		}
	}
	b.Index(testimage.Named(whole, "whole"), testimage.Named(lacking, "lacking"))
	return b.Tar(t)
}

func TestLoadCountsImageBlobs(t *testing.T) {
	tests := []struct {
		name  string
		extra []testimage.File // files no image refers to
	}{
		{"only image blobs", nil},
		{"a file no image refers to, too large to hold in memory", []testimage.File{{Name: "notes.bin", Body: strings.Repeat("x", 1<<20+1)}}},
		{"a blob no image refers to", []testimage.File{{Name: "blobs/sha256/" + digest.FromString("stray").Encoded(), Body: "stray"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testimage.Layout{}
			b.Index(testimage.Named(b.Image("amd64", "the layer"), "x"))
			b.Files = append(b.Files, tt.extra...)
			s := openStore(t)
			loaded, err := Load(s, bytes.NewReader(b.Tar(t)), archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if loaded.BlobsWritten != 3 || loaded.BlobsPresent != 0 { // layer, config, manifest
				t.Errorf("%d blobs written, %d present; want the image's 3 written", loaded.BlobsWritten, loaded.BlobsPresent)
			}
		})
	}
}

// digestSelector selects the image of manifest or index d.
func digestSelector(t *testing.T, d digest.Digest) archive.Selector {
	t.Helper()
	sel, err := archive.ParseSelector("@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	return sel
}
