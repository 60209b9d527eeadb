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

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// writeFile stores data as a file of a fresh temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// twoImages is a layout with two named single-platform images.
func twoImages() *testimage.Layout {
	b := &testimage.Layout{}
	b.Index(testimage.Named(b.Image("amd64", "layer-a"), "example.com/a:1"), testimage.Named(b.Image("arm64", "layer-b"), "b"))
	return b
}

func TestOpenRejectsBadArchives(t *testing.T) {
	good := twoImages().Tar(&testing.T{})
	tests := []struct {
		name  string
		build func(t *testing.T) []byte
		want  error
		text  string
	}{
		{"not a tar", func(*testing.T) []byte { return bytes.Repeat([]byte("not a tar "), 200) }, ErrNotArchive, "not a readable tar"},
		{"empty file", func(*testing.T) []byte { return nil }, ErrNotArchive, "empty"},
		{"truncated in a header", func(*testing.T) []byte { return good[:len(good)/2+100] }, ErrNotArchive, "truncated"},
		{"truncated in data", func(*testing.T) []byte { return good[:1000] }, ErrNotArchive, "truncated"},
		{"truncated at a block", func(*testing.T) []byte { return good[:1024] }, ErrNotArchive, "truncated"},
		{"no layout", func(t *testing.T) []byte {
			return (&testimage.Layout{Files: []testimage.File{{Name: "hello.txt", Body: "hi"}}}).Tar(t)
		}, ErrNoLayout, "index.json"},
		{"manifest.json through a link that two entries hold", func(t *testing.T) []byte {
			v := newVirtualTar(t)
			v.reg("x1.json", "[]")
			v.reg("x2.json", `[{"Config":"c"}]`)
			v.symlink("b", "x1.json")
			v.symlink("b", "x2.json")
			v.symlink(dockerManifestFile, "b")
			return v.finish().bytes()
		}, ErrAmbiguousEntry, `"b" appears twice`},
		{"index.json not JSON", func(t *testing.T) []byte {
			return (&testimage.Layout{Files: []testimage.File{{Name: indexFile, Body: "{nope"}}}).Tar(t)
		}, ErrInvalidMetadata, "index.json"},
		{"manifest.json not JSON", func(t *testing.T) []byte {
			return (&testimage.Layout{Files: []testimage.File{{Name: dockerManifestFile, Body: "[{"}}}).Tar(t)
		}, ErrInvalidMetadata, "manifest.json"},
		{"unknown layout version", func(t *testing.T) []byte {
			b := twoImages()
			b.Files[len(b.Files)-2].Body = `{"imageLayoutVersion":"9.9.9"}`
			return b.Tar(t)
		}, ErrInvalidMetadata, "9.9.9"},
		{"index.json names a missing blob", func(t *testing.T) []byte {
			b := &testimage.Layout{}
			b.Index(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("gone"), Size: 4})
			return b.Tar(t)
		}, ErrMissingBlob, digest.FromString("gone").String()},
		{"manifest size differs from its descriptor", func(t *testing.T) []byte {
			b := &testimage.Layout{}
			d := b.Image("amd64", "l")
			d.Size++
			b.Index(d)
			return b.Tar(t)
		}, ErrSizeMismatch, "declared"},
		{"manifest content differs from its digest", func(t *testing.T) []byte {
			b := &testimage.Layout{}
			d := b.Image("amd64", "l")
			m := &b.Files[len(b.Files)-1]
			m.Body = strings.Replace(m.Body, `"schemaVersion":2`, `"schemaVersion":3`, 1)
			b.Index(d)
			return b.Tar(t)
		}, ErrDigestMismatch, "content is"},
		{"indexes nested too deep", func(t *testing.T) []byte {
			b := &testimage.Layout{}
			d := b.Image("amd64", "l")
			for range maxIndexDepth + 1 {
				idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{d}}
				idx.SchemaVersion = 2
				d = b.JSONBlob(ocispec.MediaTypeImageIndex, idx)
			}
			b.Index(d)
			return b.Tar(t)
		}, ErrInvalidMetadata, "nested deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "bad.tar", tt.build(t))
			r, err := Open(path, Options{})
			if err == nil {
				r.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q is not %q", err, tt.want)
			}
			for _, s := range []string{path, tt.text} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestReaderSelect(t *testing.T) {
	path := writeFile(t, "two.tar", twoImages().Tar(t))
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	images := r.Images()
	tests := []struct {
		selector string
		want     int   // position of the image picked
		err      error // or the error kind
	}{
		{"example.com/a:1", 0, nil},
		{"b", 1, nil},
		{"@1", 1, nil},
		{"@" + images[0].Descriptor.Digest.String(), 0, nil},
		{"", 0, ErrAmbiguous},
		{"c", 0, ErrNoMatch},
		{"@2", 0, ErrNoMatch},
		{"@" + digest.FromString("x").String(), 0, ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			sel, err := ParseSelector(tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			img, err := r.Select(sel)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				for _, s := range []string{path, "@0", "example.com/a:1", "@1"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not list %q", err, s)
					}
				}
				return
			}
			if err != nil || img.Position != tt.want {
				t.Fatalf("got image %v, %v; want @%d", img, err, tt.want)
			}
		})
	}
}

func TestOpenBlobVerifies(t *testing.T) {
	b := &testimage.Layout{}
	good := b.Image("amd64", "the layer")
	b.Index(good)
	layer := digest.FromString("the layer")
	b.Files = append(b.Files, testimage.File{Name: "blobs/sha256/" + layer.Encoded(), Body: "the LAYER"}) // a later duplicate wins
	r, err := Open(writeFile(t, "x.tar", b.Tar(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc, _, err := r.OpenBlob(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("reading a corrupted blob: %v, want %v", err, ErrDigestMismatch)
	}
	if _, _, err := r.OpenBlob(digest.FromString("absent")); !errors.Is(err, ErrMissingBlob) {
		t.Errorf("opening an absent blob: %v, want %v", err, ErrMissingBlob)
	}
}

func TestImagesOfLayouts(t *testing.T) {
	tests := []struct {
		name      string
		build     func(b *testimage.Layout)
		platforms []string // of image @0
		names     []string
	}{
		{"multi-platform index", func(b *testimage.Layout) {
			b.Index(testimage.Named(b.JSONBlob(ocispec.MediaTypeImageIndex, indexOf(b.Image("amd64", "a"), b.Image("arm64", "b"))), "multi"))
		}, []string{"linux/amd64", "linux/arm64"}, []string{"multi"}},
		{"nested index", func(b *testimage.Layout) {
			inner := b.JSONBlob(ocispec.MediaTypeImageIndex, indexOf(b.Image("arm64", "b")))
			b.Index(b.JSONBlob(ocispec.MediaTypeImageIndex, indexOf(b.Image("amd64", "a"), inner)))
		}, []string{"linux/amd64", "linux/arm64"}, nil},
		{"index member not exported", func(b *testimage.Layout) {
			absent := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("arm64"), Size: 6}
			b.Index(b.JSONBlob(ocispec.MediaTypeImageIndex, indexOf(b.Image("amd64", "a"), absent)))
		}, []string{"linux/amd64"}, nil},
		{"artifact", func(b *testimage.Layout) {
			b.Index(testimage.Named(b.Blob("application/vnd.example.sbom+json", []byte(`{}`)), "sbom"))
		}, nil, []string{"sbom"}},
		{"containerd name and docker 25 RepoTags", func(b *testimage.Layout) {
			m := b.Image("amd64", "a")
			m.Annotations = map[string]string{ocispec.AnnotationRefName: "1", AnnotationContainerdImageName: "example.com/x:1"}
			b.Index(m)
			config := digest.FromBytes([]byte(b.Files[1].Body))
			b.Add(dockerManifestFile, []byte(`[{"Config":"blobs/sha256/`+config.Encoded()+`","RepoTags":["example.com/x:1","x:2"],"Layers":[]}]`))
		}, []string{"linux/amd64"}, []string{"1", "example.com/x:1", "x:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testimage.Layout{}
			tt.build(b)
			r, err := Open(writeFile(t, "x.tar", b.Tar(t)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			images := r.Images()
			if len(images) != 1 {
				t.Fatalf("%d images, want 1", len(images))
			}
			var platforms []string
			for _, p := range images[0].Platforms {
				platforms = append(platforms, PlatformString(p))
			}
			if strings.Join(platforms, " ") != strings.Join(tt.platforms, " ") {
				t.Errorf("platforms %v, want %v", platforms, tt.platforms)
			}
			if strings.Join(images[0].Names, " ") != strings.Join(tt.names, " ") {
				t.Errorf("names %v, want %v", images[0].Names, tt.names)
			}
			if images[0].Size < images[0].Descriptor.Size {
				t.Errorf("size %d, less than the manifest alone", images[0].Size)
			}
		})
	}
}

func indexOf(manifests ...ocispec.Descriptor) ocispec.Index {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	return idx
}

// TestOpenNamesSharedManifests: one manifest listed twice, under two names, as
// when the same image is saved under two tags; each entry keeps its own name.
func TestOpenNamesSharedManifests(t *testing.T) {
	b := &testimage.Layout{}
	m := b.Image("amd64", "layer")
	one, two := m, m
	one.Annotations = NameAnnotations("example.com/one:1")
	two.Annotations = NameAnnotations("example.com/two:1")
	b.Index(one, two)
	config, layer := b.Files[1], b.Files[0]
	item := func(tag string) string {
		return `{"Config":"` + config.Name + `","RepoTags":["` + tag + `"],"Layers":["` + layer.Name + `"]}`
	}
	b.Add(dockerManifestFile, []byte("["+item("example.com/one:1")+","+item("example.com/two:1")+"]"))
	r, err := Open(writeFile(t, "x.tar", b.Tar(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, name := range []string{"example.com/one:1", "example.com/two:1"} {
		sel, _ := ParseSelector(name)
		img, err := r.Select(sel)
		if err != nil || img.Position != i {
			t.Errorf("Select(%s) = %v, %v; want @%d", name, img, err, i)
		}
		if !slices.Equal(img.DockerTags(), []string{name}) {
			t.Errorf("@%d RepoTags %v, want [%s]", i, img.DockerTags(), name)
		}
	}
}

func TestBlobSectionAndOpenStream(t *testing.T) {
	b := &testimage.Layout{}
	b.Index(b.Image("amd64", "the layer"))
	data := b.Tar(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	tmp := t.TempDir()
	r, err := OpenStream(bytes.NewReader(gz.Bytes()), "stream", Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if spooled, _ := os.ReadDir(tmp); len(spooled) != 1 {
		t.Errorf("%d spool files, want 1", len(spooled))
	}
	sec, err := r.BlobSection(digest.FromString("the layer"))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 3)
	if _, err := sec.ReadAt(got, 4); err != nil || string(got) != "lay" || sec.Size() != 9 {
		t.Errorf("section: %q at 4, size %d, %v", got, sec.Size(), err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Close left %v", left)
	}
}
