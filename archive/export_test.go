package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// exportThroughPipe runs Export into a pipe and returns what came out of it.
func exportThroughPipe(r *Reader, img Image, opts ExportOptions) ([]byte, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Export(pw, r, img, opts)
		pw.CloseWithError(err)
		done <- err
	}()
	data, readErr := io.ReadAll(pr)
	if err := <-done; err != nil {
		return nil, err
	}
	return data, readErr
}

func TestExport(t *testing.T) {
	r, ms := multiPlatform(t)
	multi, err := r.Select(Selector{name: "multi"})
	if err != nil {
		t.Fatal(err)
	}
	linux := func(arch, variant string) ocispec.Platform {
		return ocispec.Platform{OS: "linux", Architecture: arch, Variant: variant}
	}
	tests := []struct {
		name      string
		platforms []ocispec.Platform
		want      []string // keys of ms the written index lists; nil: the original index
	}{
		{"all", nil, nil},
		{"amd64", []ocispec.Platform{linux("amd64", "")}, []string{"linux/amd64"}},
		{"arm64 by default variant", []ocispec.Platform{linux("arm64", "")}, []string{"linux/arm64/v8"}},
		{"two", []ocispec.Platform{linux("arm", "v6"), linux("amd64", "")}, []string{"linux/amd64", "linux/arm/v6"}},
		{"every platform", []ocispec.Platform{linux("arm", "v6"), linux("amd64", ""), linux("arm64", "v8")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := exportThroughPipe(r, multi, ExportOptions{Platforms: tt.platforms})
			if err != nil {
				t.Fatal(err)
			}
			out, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			images := out.Images()
			if len(images) != 1 || images[0].Names[0] != "multi" {
				t.Fatalf("exported images %v, want one named multi", images)
			}
			switch len(tt.want) {
			case 0:
				if images[0].Descriptor.Digest != multi.Descriptor.Digest {
					t.Errorf("index %s, want the original %s", images[0].Descriptor.Digest, multi.Descriptor.Digest)
				}
				return
			case 1:
				if got := images[0].Descriptor; got.Digest != ms[tt.want[0]].Digest || got.Platform == nil || PlatformString(*got.Platform) != tt.want[0] {
					t.Errorf("index.json lists %+v, want the manifest for %s", got, tt.want[0])
				}
				return
			}
			var index ocispec.Index
			if err := out.readJSON(images[0].Descriptor, &index); err != nil {
				t.Fatal(err)
			}
			var got []digest.Digest
			for _, m := range index.Manifests {
				got = append(got, m.Digest)
			}
			var want []digest.Digest
			for _, k := range tt.want {
				want = append(want, ms[k].Digest)
			}
			if !equalDigests(got, want) {
				t.Errorf("index lists %v, want %v", got, want)
			}
			if len(images[0].Blobs) != 1+3*len(tt.want) {
				t.Errorf("the image reaches %d blobs, want %d", len(images[0].Blobs), 1+3*len(tt.want))
			}
			if n := len(readBlobs(t, out)); n != len(images[0].Blobs) {
				t.Errorf("%d blobs readable, want %d", n, len(images[0].Blobs))
			}
		})
	}
}

func equalDigests(a, b []digest.Digest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExportRefuses(t *testing.T) {
	r, _ := multiPlatform(t)
	multi, _ := r.Select(Selector{name: "multi"})
	if _, err := exportThroughPipe(r, multi, ExportOptions{Platforms: []ocispec.Platform{{OS: "linux", Architecture: "s390x"}}}); !errors.Is(err, ErrNoMatch) {
		t.Errorf("exporting a platform the image lacks: %v, want %v", err, ErrNoMatch)
	}

	b := &testimage.Layout{}
	b.Index(testimage.Named(b.Image("amd64", "the layer"), "x"))
	b.Files = append(b.Files, testimage.File{Name: "blobs/sha256/" + digest.FromString("the layer").Encoded(), Body: "the LAYER"})
	corrupt, err := Open(writeFile(t, "x.tar", b.Tar(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer corrupt.Close()
	img := corrupt.Images()[0]
	for _, platforms := range [][]ocispec.Platform{nil, {{OS: "linux", Architecture: "amd64"}}} {
		if err := Export(io.Discard, corrupt, img, ExportOptions{Platforms: platforms}); !errors.Is(err, ErrDigestMismatch) {
			t.Errorf("exporting a corrupt layer (platforms %v): %v, want %v", platforms, err, ErrDigestMismatch)
		}
	}
}

func TestExportListsOnlyWhatItHolds(t *testing.T) {
	b := &testimage.Layout{}
	absent := &testimage.Layout{}
	amd := withPlatform(b.Image("amd64", "layer amd64"), "linux", "amd64", "")
	arm := withPlatform(absent.Image("arm64", "layer arm64"), "linux", "arm64", "v8")
	artifact := b.Blob("application/vnd.example.signature", []byte("signature"))
	idx := indexOf(amd, arm, artifact)
	idx.MediaType, idx.SchemaVersion = ocispec.MediaTypeImageIndex, 2
	b.Index(testimage.Named(b.JSONBlob(ocispec.MediaTypeImageIndex, idx), "multi"))
	r, err := Open(writeFile(t, "partial.tar", b.Tar(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		name      string
		platforms []ocispec.Platform
		want      []digest.Digest // what the exported index lists
	}{
		{"all", nil, []digest.Digest{amd.Digest, artifact.Digest}},
		{"amd64 and arm64", []ocispec.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, []digest.Digest{amd.Digest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := exportThroughPipe(r, r.Images()[0], ExportOptions{Platforms: tt.platforms})
			if err != nil {
				t.Fatal(err)
			}
			out, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			got := out.Images()[0].Descriptor
			if IsIndex(got.MediaType) {
				var index ocispec.Index
				if err := out.readJSON(got, &index); err != nil {
					t.Fatal(err)
				}
				var listed []digest.Digest
				for _, m := range index.Manifests {
					listed = append(listed, m.Digest)
				}
				if !equalDigests(listed, tt.want) {
					t.Errorf("the exported index lists %v, want %v", listed, tt.want)
				}
			} else if len(tt.want) != 1 || got.Digest != tt.want[0] {
				t.Errorf("index.json lists %s, want %v", got.Digest, tt.want)
			}
			if n := len(readBlobs(t, out)); n != len(out.Images()[0].Blobs) {
				t.Errorf("%d blobs in the export, the image reaches %d", n, len(out.Images()[0].Blobs))
			}
		})
	}
}

func TestExportName(t *testing.T) {
	b := &testimage.Layout{}
	old := b.Image("amd64", "layer old")
	old.Annotations = map[string]string{
		ocispec.AnnotationRefName:     "example.com/old/img:1",
		AnnotationContainerdImageName: "example.com/old/img:1",
		ocispec.AnnotationCreated:     "2024-01-02T03:04:05Z",
	}
	amd := withPlatform(b.Image("amd64", "layer amd64"), "linux", "amd64", "")
	arm := withPlatform(b.Image("arm64", "layer arm64"), "linux", "arm64", "v8")
	idx := indexOf(amd, arm)
	idx.MediaType, idx.SchemaVersion = ocispec.MediaTypeImageIndex, 2
	b.Index(old, testimage.Named(b.JSONBlob(ocispec.MediaTypeImageIndex, idx), "multi"))
	r, err := Open(writeFile(t, "named.tar", b.Tar(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	amd64 := []ocispec.Platform{{OS: "linux", Architecture: "amd64"}}
	tests := []struct {
		name       string
		image      string
		opts       ExportOptions
		annotation map[string]string // of the image in index.json
		repoTags   []string          // in manifest.json; nil: no manifest.json
	}{
		{"own names", "example.com/old/img:1", ExportOptions{},
			old.Annotations, []string{"example.com/old/img:1"}},
		{"docker reference", "example.com/old/img:1", ExportOptions{Name: "example.com/new/img:2"},
			map[string]string{ocispec.AnnotationRefName: "example.com/new/img:2", AnnotationContainerdImageName: "example.com/new/img:2", ocispec.AnnotationCreated: "2024-01-02T03:04:05Z"},
			[]string{"example.com/new/img:2"}},
		{"short reference", "example.com/old/img:1", ExportOptions{Name: "alpine:3"},
			map[string]string{ocispec.AnnotationRefName: "alpine:3", AnnotationContainerdImageName: "docker.io/library/alpine:3", ocispec.AnnotationCreated: "2024-01-02T03:04:05Z"},
			[]string{"docker.io/library/alpine:3"}},
		{"bare tag", "example.com/old/img:1", ExportOptions{Name: "v2"},
			map[string]string{ocispec.AnnotationRefName: "v2", ocispec.AnnotationCreated: "2024-01-02T03:04:05Z"},
			[]string{}},
		{"OCI format", "example.com/old/img:1", ExportOptions{Name: "example.com/new/img:2", Format: FormatOCI},
			map[string]string{ocispec.AnnotationRefName: "example.com/new/img:2", AnnotationContainerdImageName: "example.com/new/img:2", ocispec.AnnotationCreated: "2024-01-02T03:04:05Z"},
			nil},
		{"one platform of an index", "multi", ExportOptions{Name: "example.com/one/img:3", Platforms: amd64},
			map[string]string{ocispec.AnnotationRefName: "example.com/one/img:3", AnnotationContainerdImageName: "example.com/one/img:3"},
			[]string{"example.com/one/img:3"}},
		{"whole index", "multi", ExportOptions{Name: "example.com/all/img:4"},
			map[string]string{ocispec.AnnotationRefName: "example.com/all/img:4", AnnotationContainerdImageName: "example.com/all/img:4"},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, _ := ParseSelector(tt.image)
			img, err := r.Select(sel)
			if err != nil {
				t.Fatal(err)
			}
			data, err := exportThroughPipe(r, img, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			files := map[string][]byte{}
			for _, e := range readTar(t, data) {
				files[e.hdr.Name] = e.body
			}
			var index ocispec.Index
			if err := json.Unmarshal(files[indexFile], &index); err != nil || len(index.Manifests) != 1 {
				t.Fatalf("index.json %s: %v, want one image", files[indexFile], err)
			}
			if got := index.Manifests[0].Annotations; !maps.Equal(got, tt.annotation) {
				t.Errorf("index.json names the image %v, want %v", got, tt.annotation)
			}
			manifestJSON, ok := files[dockerManifestFile]
			if tt.repoTags == nil {
				if ok {
					t.Errorf("manifest.json %s written, want none", manifestJSON)
				}
				return
			}
			var items []dockerSaveItem
			if err := json.Unmarshal(manifestJSON, &items); err != nil || len(items) != 1 {
				t.Fatalf("manifest.json %s: %v, want one image", manifestJSON, err)
			}
			if !slices.Equal(items[0].RepoTags, tt.repoTags) {
				t.Errorf("manifest.json lists RepoTags %v, want %v", items[0].RepoTags, tt.repoTags)
			}
		})
	}
}

func TestExportRefusesName(t *testing.T) {
	r, _ := multiPlatform(t)
	for _, name := range []string{"Not A Name", "example.com/img:", "/abs", "a//b"} {
		var out bytes.Buffer
		if err := Export(&out, r, r.Images()[1], ExportOptions{Name: name}); !errors.Is(err, ErrBadSelector) || out.Len() != 0 {
			t.Errorf("exporting under %q: %v, %d bytes written; want %v and nothing written", name, err, out.Len(), ErrBadSelector)
		}
	}
}
