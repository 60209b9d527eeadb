package inventory

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

var (
	layer    = digest.FromString("layer")
	identity = digest.FromString("index.json")
)

// TestWriteRead writes an inventory of an archive and a repository and
// reads it back as it was; AddTo makes the delta against its sources.
func TestWriteRead(t *testing.T) {
	inv := New(
		NewSource(archive.Base{Kind: archive.BaseArchive, Name: "bundle.tar", Identity: identity}, map[digest.Digest]int64{layer: 5, identity: 2}),
		NewSource(archive.Base{Kind: archive.BaseRegistry, Name: "docker://127.0.0.1:5000/app"}, map[digest.Digest]int64{}),
	)
	var buf bytes.Buffer
	if err := inv.Write(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("Read of %s: %v", buf.Bytes(), err)
	}
	var again bytes.Buffer
	if err := got.Write(&again); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("read back and written again:\n%s\nwant\n%s (%v)", again.Bytes(), buf.Bytes(), err)
	}
	if want := min(layer, identity); got.Sources[0].Blobs[0].Digest != want {
		t.Errorf("the first blob is %s, want %s: blobs in digest order", got.Sources[0].Blobs[0].Digest, want)
	}
	var d archive.Delta
	got.AddTo(&d)
	if len(d.Bases) != 2 || d.Bases[1].Name != "docker://127.0.0.1:5000/app" || d.Held[layer] != 5 || len(d.Held) != 2 {
		t.Errorf("AddTo made %+v", d)
	}
}

// TestRead refuses what is not an inventory, each with an error saying so
// and why.
func TestRead(t *testing.T) {
	blob := `{"digest":"` + string(layer) + `","size":5}`
	source := func(fields string) string {
		return `{"version":1,"sources":[{` + fields + `,"blobs":[` + blob + `]}]}`
	}
	archiveSource := `"kind":"archive","name":"a.tar","identity":"` + string(identity) + `"`
	tests := []struct {
		name, data, want string
	}{
		{"an archive", "\x1f\x8b\x08", "invalid character"},
		{"empty", "", "the file is empty"},
		{"a list", `[]`, "cannot unmarshal array"},
		{"no version", `{"sources":[]}`, "version 0, this ocitar reads version 1"},
		{"a later version", `{"version":2,"sources":[]}`, "version 2"},
		{"no sources", `{"version":1}`, `no "sources"`},
		{"an unknown field", `{"version":1,"sources":[],"extra":1}`, `unknown field "extra"`},
		{"data after it", `{"version":1,"sources":[]}{}`, "data after the inventory"},
		{"an unknown kind", source(`"kind":"tape","name":"a"`), `kind "tape"`},
		{"an archive without identity", source(`"kind":"archive","name":"a.tar"`), "identity"},
		{"a path for a name", source(`"kind":"archive","name":"/srv/a.tar","identity":"` + string(identity) + `"`), "not a file name"},
		{"a registry that is not a URL", source(`"kind":"registry","name":"registry.site/app"`), "not a docker:// URL"},
		{"no blobs", `{"version":1,"sources":[{` + archiveSource + `}]}`, `no "blobs"`},
		{"a bad digest", `{"version":1,"sources":[{` + archiveSource + `,"blobs":[{"digest":"sha256:12","size":1}]}]}`, `blob "sha256:12"`},
		{"a negative size", `{"version":1,"sources":[{` + archiveSource + `,"blobs":[{"digest":"` + string(layer) + `","size":-1}]}]}`, "size -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.data))
			if !errors.Is(err, archive.ErrInvalidMetadata) || !strings.Contains(err.Error(), "not an inventory") || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Read(%q) = %v; want one line of ErrInvalidMetadata saying %q", tt.data, err, tt.want)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "have.json")
	if err := os.WriteFile(path, []byte(`{"version":3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("Load: %v, want an error starting with %s", err, path)
	}
}

// TestFromReader is the source of an archive: its Base and the blobs it holds.
func TestFromReader(t *testing.T) {
	var b testimage.Layout
	m := b.Image("amd64", "layer")
	b.Index(testimage.Named(m, "app:1"))
	path := filepath.Join(t.TempDir(), "site.tar")
	if err := os.WriteFile(path, b.Tar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := FromReader(r)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := r.Identity()
	if s.Base != (archive.Base{Kind: archive.BaseArchive, Name: "site.tar", Identity: id}) || len(s.Blobs) != 3 {
		t.Errorf("FromReader = %+v, want site.tar, %s, 3 blobs (manifest, config, layer)", s, id)
	}
	for _, bl := range s.Blobs {
		if bl.Digest == layer && bl.Size != int64(len("layer")) {
			t.Errorf("layer of size %d, want %d", bl.Size, len("layer"))
		}
	}
}
