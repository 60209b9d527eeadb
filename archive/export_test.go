package archive

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// exportThroughPipe runs Export into a pipe and returns what came out of it.
func exportThroughPipe(r *Reader, img Image, platforms ...ocispec.Platform) ([]byte, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Export(pw, r, img, platforms...)
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
			data, err := exportThroughPipe(r, multi, tt.platforms...)
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
	if _, err := exportThroughPipe(r, multi, ocispec.Platform{OS: "linux", Architecture: "s390x"}); !errors.Is(err, ErrNoMatch) {
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
		if err := Export(io.Discard, corrupt, img, platforms...); !errors.Is(err, ErrDigestMismatch) {
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
			data, err := exportThroughPipe(r, r.Images()[0], tt.platforms...)
			if err != nil {
				t.Fatal(err)
			}
			out, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			got := out.Images()[0].Descriptor
			if isIndex(got.MediaType) {
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
