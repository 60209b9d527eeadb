package archive

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
			want, err := Open(tt.archive, Options{})
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
			first, err := Load(s, stream(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			second, err := Load(s, stream(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if first.BlobsWritten == 0 || second.BlobsWritten != 0 || second.BlobsPresent < first.BlobsWritten {
				t.Errorf("blobs written %d then %d, present the second time %d; want some, then none", first.BlobsWritten, second.BlobsWritten, second.BlobsPresent)
			}
			got, err := OpenDir(s.Dir(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			for i, img := range want.Images() {
				loaded := first.Images[i]
				_, legacy := want.synthetic[img.Descriptor.Digest]
				if loaded.Descriptor.Digest != img.Descriptor.Digest && !legacy || !slices.Equal(loaded.Names, img.Names) {
					t.Errorf("loaded %+v, want %s %v", loaded, img.Descriptor.Digest, img.Names)
				}
				stored, err := got.Select(Selector{digest: loaded.Descriptor.Digest, position: -1})
				if err != nil {
					t.Fatal(err)
				}
				if len(stored.blobs) != len(img.blobs) || PlatformString(stored.Platforms[0]) != PlatformString(img.Platforms[0]) {
					t.Errorf("the store's image has %d blobs for %v; the archive's %d for %v", len(stored.blobs), stored.Platforms, len(img.blobs), img.Platforms)
				}
				wantRes, err := want.Resolve(Selector{digest: img.Descriptor.Digest, position: -1}, &img.Platforms[0])
				if err != nil {
					t.Fatal(err)
				}
				gotRes, err := got.Resolve(Selector{digest: loaded.Descriptor.Digest, position: -1}, &img.Platforms[0])
				if err != nil {
					t.Fatal(err)
				}
				if gotRes.Manifest.Config.Digest != wantRes.Manifest.Config.Digest || !equalDigests(layerDigests(gotRes), layerDigests(wantRes)) {
					t.Errorf("the store resolves to %v, the archive to %v", gotRes.Manifest, wantRes.Manifest)
				}
			}
			storeFiles(t, s)
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	b := &layoutBuilder{}
	b.index(named(b.image("amd64", "the layer"), "x"))
	layer := "blobs/sha256/" + digest.FromString("the layer").Encoded()
	for i, f := range b.files {
		if f.name == layer {
			b.files[i].body = "the LAYER"
		}
	}
	tests := []struct {
		name   string
		stream []byte
		err    error
	}{
		{"blob failing its digest", b.tar(t), ErrDigestMismatch},
		{"an image lacking a layer after a whole one", lackingLayer(t), ErrMissingBlob},
		{"not a tar", []byte("not a tar at all, not even close to 512 bytes"), ErrNotArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			if _, err := Load(s, bytes.NewReader(tt.stream), Options{}); !errors.Is(err, tt.err) {
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

func layerDigests(res Resolved) []digest.Digest {
	var out []digest.Digest
	for _, l := range res.Manifest.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// lackingLayer is an OCI layout tar of two images: the first whole, the second
// without its layer.
func lackingLayer(t *testing.T) []byte {
	b := &layoutBuilder{}
	whole := b.image("amd64", "whole layer")
	other := &layoutBuilder{}
	lacking := other.image("amd64", "absent layer")
	for _, f := range other.files {
		if f.body != "absent layer" {
			b.files = append(b.files, f)
		}
	}
	b.index(named(whole, "whole"), named(lacking, "lacking"))
	return b.tar(t)
}

func TestLoadCountsImageBlobs(t *testing.T) {
	tests := []struct {
		name  string
		extra []fileEntry // files no image refers to
	}{
		{"only image blobs", nil},
		{"a large file no image refers to", []fileEntry{{"notes.bin", strings.Repeat("x", maxHeldFile+1)}}},
		{"a blob no image refers to", []fileEntry{{"blobs/sha256/" + digest.FromString("stray").Encoded(), "stray"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &layoutBuilder{}
			b.index(named(b.image("amd64", "the layer"), "x"))
			b.files = append(b.files, tt.extra...)
			s := openStore(t)
			loaded, err := Load(s, bytes.NewReader(b.tar(t)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if loaded.BlobsWritten != 3 || loaded.BlobsPresent != 0 { // layer, config, manifest
				t.Errorf("%d blobs written, %d present; want the image's 3 written", loaded.BlobsWritten, loaded.BlobsPresent)
			}
		})
	}
}
