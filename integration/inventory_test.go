package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/inventory"
)

// registryImage is what the registry serves for a reference: the digests
// of its manifest, config and layers.
type registryImage struct {
	manifest, config string
	layers           []string
}

func (r *registryServer) image(t *testing.T, ref string) registryImage {
	t.Helper()
	raw, d := r.manifest(t, ref)
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v\n%s", ref, err, raw)
	}
	img := registryImage{manifest: d, config: m.Config.Digest}
	for _, l := range m.Layers {
		img.layers = append(img.layers, l.Digest)
	}
	return img
}

// inventoryDigests runs ocitar inventory of location and returns the
// inventory and the digests of its only source.
func inventoryDigests(t *testing.T, location string) ([]byte, inventory.Source, []string) {
	t.Helper()
	out := run(t, ocitar, "inventory", "--tls-verify=false", location)
	inv, err := inventory.Read(bytes.NewReader(out))
	if err != nil || len(inv.Sources) != 1 {
		t.Fatalf("ocitar inventory %s: %v, %s", location, err, out)
	}
	var digests []string
	for _, b := range inv.Sources[0].Blobs {
		digests = append(digests, string(b.Digest))
	}
	return out, inv.Sources[0], digests
}

// TestInventoryOfRegistry takes the inventory of a docker-registry's
// repository, every tag of it or one, and writes deltas against it: an
// image the repository holds leaves every layer out, a new one keeps its
// own, and each delta records the repository by its URL.
func TestInventoryOfRegistry(t *testing.T) {
	reg := registryStart(t)
	pushes := []struct{ file, tag string }{{"sample.docker.tar", "1"}, {"peers/b-oci-one.skopeo.tar", "2"}}
	for _, p := range pushes {
		run(t, ocitar, "copy", "--insecure-policy", "-q", "--dest-tls-verify=false", "oci-tar:"+testdata(p.file), reg.ref("t/app:"+p.tag))
	}
	one, two := reg.image(t, reg.ref("t/app:1")), reg.image(t, reg.ref("t/app:2"))
	repo := "docker://" + reg.host + "/t/app"

	have, source, all := inventoryDigests(t, repo)
	if source.Base != (archive.Base{Kind: archive.BaseRegistry, Name: repo}) {
		t.Errorf("the inventory's source is %+v, want the registry %s", source.Base, repo)
	}
	for _, d := range append(append(slices.Clone(one.layers), two.layers...), one.config, two.config, one.manifest, two.manifest) {
		if !slices.Contains(all, d) {
			t.Errorf("the inventory of every tag lacks %s", d)
		}
	}
	_, _, tagged := inventoryDigests(t, repo+":1")
	if !slices.Contains(tagged, one.layers[0]) || slices.Contains(tagged, two.layers[0]) {
		t.Errorf("the inventory of %s:1 lists %v, want the layers of tag 1 alone", repo, tagged)
	}

	dir := t.TempDir()
	haveFile := filepath.Join(dir, "have.json")
	if err := os.WriteFile(haveFile, have, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, src string
		blobs     []string // the blobs the delta holds; nil: its layers are those of src
	}{
		{"tag 1", reg.ref("t/app:1"), []string{one.manifest, one.config}},
		{"tag 2", reg.ref("t/app:2"), []string{two.manifest, two.config}},
		{"a new image", "oci-tar:" + testdata("sample-multi.oci.tar") + ":example.com/ocitar/multi:1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "delta.tar")
			run(t, ocitar, "copy", "--insecure-policy", "-q", "--src-tls-verify=false", "--override-arch", "amd64", "--have", haveFile, tt.src, "oci-tar:"+out+":app")
			blobs, index := deltaEntries(t, out)
			if tt.blobs != nil && !sameSet(blobs, tt.blobs) {
				t.Errorf("the delta holds %v, want %v", blobs, tt.blobs)
			}
			if tt.blobs == nil && len(blobs) < 3 {
				t.Errorf("the delta of a new image holds %v, want its manifest, config and layers", blobs)
			}
			want := `[{"kind":"registry","name":"` + repo + `"}]`
			if got := index.Annotations[archive.AnnotationBases]; got != want {
				t.Errorf("the delta records %s, want %s", got, want)
			}
		})
	}
}

// deltaEntries are the digests of the blobs in the archive at path, and its index.json.
func deltaEntries(t *testing.T, path string) ([]string, struct{ Annotations map[string]string }) {
	t.Helper()
	var blobs []string
	var index struct{ Annotations map[string]string }
	for _, e := range readTar(t, path) {
		if enc, ok := strings.CutPrefix(e.name, "blobs/sha256/"); ok && enc != "" {
			blobs = append(blobs, "sha256:"+enc)
		}
		if e.name == "index.json" {
			if err := json.Unmarshal(e.data, &index); err != nil {
				t.Fatalf("%s: index.json: %v", path, err)
			}
		}
	}
	return blobs, index
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
