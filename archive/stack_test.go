package archive

import (
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

// stackImage is a test image of one layer.
type stackImage struct{ name, arch, layer string }

// writeStackMember writes an archive of images to dir/file, without the
// blobs of the layers in lacks (as a delta lacks its bases' blobs), and
// returns the manifest digest of each image by name.
func writeStackMember(t *testing.T, dir, file string, lacks []string, images ...stackImage) (string, map[string]digest.Digest) {
	t.Helper()
	var b testimage.Layout
	var manifests []ocispec.Descriptor
	byName := map[string]digest.Digest{}
	for _, img := range images {
		m := b.Image(img.arch, img.layer)
		manifests = append(manifests, testimage.Named(m, img.name))
		byName[img.name] = m.Digest
	}
	b.Index(manifests...)
	b.Files = slices.DeleteFunc(b.Files, func(f testimage.File) bool { return slices.Contains(lacks, f.Body) })
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, b.Tar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, byName
}

func openMembers(t *testing.T, paths ...string) []*Reader {
	t.Helper()
	var members []*Reader
	for _, p := range paths {
		r, err := Open(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, r)
	}
	return members
}

// TestOpenStack reads a base and two deltas as one: a name a later member
// holds shows its image, a notice says which image it hides, and every
// blob of every image shown is read from the member that holds it.
func TestOpenStack(t *testing.T) {
	dir := t.TempDir()
	base, baseImages := writeStackMember(t, dir, "base.tar", nil,
		stackImage{"app:1", "amd64", "app layer"}, stackImage{"db:1", "amd64", "db layer"}, stackImage{"tool:1", "amd64", "tool layer"})
	delta1, delta1Images := writeStackMember(t, dir, "delta1.tar", []string{"app layer"},
		stackImage{"app:1", "arm64", "app layer"})
	delta2, delta2Images := writeStackMember(t, dir, "delta2.tar", []string{"db layer"},
		stackImage{"db:1", "arm64", "db layer"}, stackImage{"new:1", "amd64", "new layer"})

	var notices []string
	r, err := OpenStack(openMembers(t, base, delta1, delta2), Options{Notice: func(s string) { notices = append(notices, s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := map[string]digest.Digest{"app:1": delta1Images["app:1"], "db:1": delta2Images["db:1"], "tool:1": baseImages["tool:1"], "new:1": delta2Images["new:1"]}
	for _, img := range r.Images() {
		for _, b := range img.Blobs {
			rc, _, err := r.OpenBlob(b.Digest)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if err != nil {
				t.Errorf("image %v: blob %s: %v", img.Names, b.Digest, err)
			}
		}
	}
	if n := len(r.Images()); n != len(want) {
		t.Errorf("the stack shows %d images, want %d", n, len(want))
	}
	for n, d := range want {
		if img, err := r.Select(mustSelector(t, n)); err != nil || img.Descriptor.Digest != d {
			t.Errorf("%s is %s in the stack (%v), want %s", n, img.Descriptor.Digest, err, d)
		}
	}
	wantNotices := []string{"app:1: the image of " + delta1 + " hides that of " + base, "db:1: the image of " + delta2 + " hides that of " + base}
	if !slices.Equal(notices, wantNotices) {
		t.Errorf("notices %q, want %q", notices, wantNotices)
	}
	if rep := r.verify(nil); len(rep.Problems) != 0 || rep.Images != 4 {
		t.Errorf("verify of the stack: %d images, problems %v; want 4, none", rep.Images, rep.Problems)
	}
}

func TestOpenStackRefuses(t *testing.T) {
	dir := t.TempDir()
	base, _ := writeStackMember(t, dir, "base.tar", nil, stackImage{"app:1", "amd64", "app layer"})
	delta, deltaImages := writeStackMember(t, dir, "delta.tar", []string{"app layer"}, stackImage{"app:2", "arm64", "app layer"})

	if _, err := OpenStack(openMembers(t, base, base), Options{}); !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "names "+base+" twice") {
		t.Errorf("a stack naming %s twice: %v, want ErrInvalidMetadata naming it", base, err)
	}

	// The delta alone lacks the layer it shares with its base.
	r, err := OpenStack(openMembers(t, delta), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := r.Select(mustSelector(t, "app:2"))
	if err != nil || img.Descriptor.Digest != deltaImages["app:2"] {
		t.Fatalf("Select app:2 = %v, %v", img.Descriptor.Digest, err)
	}
	rep := r.verify(nil)
	if len(rep.Problems) != 1 || !errors.Is(rep.Problems[0], ErrMissingBlob) {
		t.Errorf("verify of a delta alone: problems %v, want one missing blob", rep.Problems)
	}
}

func mustSelector(t *testing.T, s string) Selector {
	t.Helper()
	sel, err := ParseSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}
