package archive

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/internal/malicious"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestVerify(t *testing.T) {
	tests := []struct {
		path          string
		images, blobs int
	}{
		{"../testdata/sample.docker.tar", 1, 4},
		{"../testdata/sample-multi.oci.tar", 1, 8},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			rep := Verify(tt.path, Options{})
			if len(rep.Problems) != 0 || rep.Images != tt.images || rep.Blobs != tt.blobs {
				t.Fatalf("Verify = %d images, %d blobs, problems %v; want %d, %d, none", rep.Images, rep.Blobs, rep.Problems, tt.images, tt.blobs)
			}
		})
	}
}

// TestVerifyCorpus checks that Verify reports the one problem of every file
// of the malicious corpus, and Open or reading the blobs fails with it too.
func TestVerifyCorpus(t *testing.T) {
	for _, c := range malicious.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			data, err := c.Build()
			if err != nil {
				t.Fatal(err)
			}
			path := writeFile(t, c.Name, data)
			rep := Verify(path, Options{})
			if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Error(), c.Problem) || !strings.Contains(rep.Problems[0].Error(), path) {
				t.Fatalf("Verify problems = %v, want one naming %s and %q", rep.Problems, path, c.Problem)
			}
		})
	}
}

// TestVerifyReportsEveryProblem: problems in the tar, in index.json and in
// the blobs of several images are all reported, and the images are counted.
func TestVerifyReportsEveryProblem(t *testing.T) {
	b := &testimage.Layout{}
	missing := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("absent"), Size: 2}
	b.Index(b.Image("amd64", "good layer"), b.Image("arm64", "corrupt layer"), b.Image("s390x", "dangling layer"), missing)
	b.Add("/absolute", []byte("x"))
	for i, f := range b.Files {
		switch f.Body {
		case "corrupt layer":
			b.Files[i].Body = "corrupt LAYER"
		case "dangling layer":
			b.Files[i].Name = "elsewhere"
		}
	}
	rep := Verify(writeFile(t, "multi.tar", b.Tar(t)), Options{})
	kinds := []error{ErrUnsafeEntry, ErrMissingBlob, ErrDigestMismatch, ErrMissingBlob}
	if rep.Images != 3 || len(rep.Problems) != len(kinds) {
		t.Fatalf("Verify = %d images, problems %v; want 3 images, %d problems", rep.Images, rep.Problems, len(kinds))
	}
	for i, kind := range kinds {
		if !errors.Is(rep.Problems[i], kind) {
			t.Errorf("problem %d = %v, want %v", i, rep.Problems[i], kind)
		}
	}
}
