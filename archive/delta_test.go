package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tarFileDigest is the digest of the file name in the tar at path.
func tarFileDigest(t *testing.T, path, name string) digest.Digest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body, ok := tarFile(readTar(t, data), name)
	if !ok {
		t.Fatalf("%s holds no %s", path, name)
	}
	return digest.FromBytes(body)
}

// TestReaderAsBase collects what an archive, a layout directory, a delta
// and a docker-save archive hold as bases, without hashing their blobs.
func TestReaderAsBase(t *testing.T) {
	dir := t.TempDir()
	app, db := digest.FromString("app layer"), digest.FromString("db layer")
	base, _ := writeStackMember(t, dir, "base.tar", nil, stackImage{"app:1", "amd64", "app layer"}, stackImage{"db:1", "amd64", "db layer"})
	delta, _ := writeStackMember(t, dir, "delta.tar", []string{"app layer"}, stackImage{"app:2", "arm64", "app layer"})
	var save bytes.Buffer
	if err := testimage.WriteDockerSave(&save, testimage.Sample("example.com/sample:1", ocispec.Platform{OS: "linux", Architecture: "amd64"})); err != nil {
		t.Fatal(err)
	}
	saved := writeFile(t, "saved.tar", save.Bytes())
	tests := []struct {
		name     string
		open     func() (*Reader, error)
		base     Base
		holds    []digest.Digest
		lacks    []digest.Digest
		nonLayer int // manifests and configs held
	}{
		{"archive", func() (*Reader, error) { return Open(base, Options{}) },
			Base{BaseArchive, "base.tar", tarFileDigest(t, base, "index.json")}, []digest.Digest{app, db}, nil, 4},
		{"layout directory", func() (*Reader, error) { return OpenDir(extractTar(t, base), Options{}) },
			Base{BaseLayout, "layout", tarFileDigest(t, base, "index.json")}, []digest.Digest{app, db}, nil, 4},
		{"a delta holds what it holds", func() (*Reader, error) { return Open(delta, Options{}) },
			Base{BaseArchive, "delta.tar", tarFileDigest(t, delta, "index.json")}, nil, []digest.Digest{app}, 2},
		{"docker-save", func() (*Reader, error) { return Open(saved, Options{}) },
			Base{BaseArchive, "saved.tar", tarFileDigest(t, saved, "manifest.json")}, nil, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.open()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			b, held, err := r.AsBase()
			if tt.base.Kind == BaseLayout {
				tt.base.Name = filepath.Base(r.Name())
			}
			if err != nil || b != tt.base {
				t.Fatalf("AsBase = %+v, %v; want %+v", b, err, tt.base)
			}
			for _, d := range tt.holds {
				if _, ok := held[d]; !ok {
					t.Errorf("held lacks %s", d)
				}
			}
			for _, d := range tt.lacks {
				if _, ok := held[d]; ok {
					t.Errorf("held has %s, which the archive lacks", d)
				}
			}
			if want := tt.nonLayer + len(tt.holds); tt.name != "docker-save" && len(held) != want {
				t.Errorf("%d blobs held, want %d: %v", len(held), want, held)
			}
			for _, img := range r.Images() {
				for _, bl := range img.Blobs {
					if size, ok := held[bl.Digest]; ok && size != bl.Size {
						t.Errorf("held[%s] = %d, declared %d", bl.Digest, size, bl.Size)
					}
				}
			}
		})
	}
}

// TestReaderAsBaseRefusesWrongSizes refuses a base whose manifest declares
// a size that the blob's entry does not have.
func TestReaderAsBaseRefusesWrongSizes(t *testing.T) {
	var b testimage.Layout
	layer := b.Blob(ocispec.MediaTypeImageLayer, []byte("layer"))
	config := b.JSONBlob(ocispec.MediaTypeImageConfig, ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}})
	layer.Size++
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	b.Index(b.JSONBlob(ocispec.MediaTypeImageManifest, m))
	path := writeFile(t, "bad.tar", b.Tar(t))
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, err := r.AsBase(); !errors.Is(err, ErrSizeMismatch) || !strings.Contains(err.Error(), path) {
		t.Errorf("AsBase of %s: %v, want ErrSizeMismatch naming it", path, err)
	}
}

// writeDelta writes the images of the archive at path to a delta against
// bases, and returns its bytes.
func writeDelta(t *testing.T, path string, bases ...string) []byte {
	t.Helper()
	delta := &Delta{}
	for _, p := range bases {
		r, err := Open(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, held, err := r.AsBase()
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		delta.Add(b, held)
	}
	src, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	data, err := writeArchive(t, toFile, WriterOptions{Delta: delta}, func(w *Writer) {
		for _, img := range src.Images() {
			if err := w.CopyImage(src, img); err != nil {
				t.Fatal(err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestWriterDelta writes deltas against one and two bases: each holds
// every manifest and config of its images, even those a base holds, the
// layers no base holds and no other, records its bases, and reads whole
// on top of them.
func TestWriterDelta(t *testing.T) {
	dir := t.TempDir()
	base1, _ := writeStackMember(t, dir, "base1.tar", nil, stackImage{"app:1", "amd64", "app layer"}, stackImage{"db:1", "amd64", "db layer"})
	base2, _ := writeStackMember(t, dir, "base2.tar", nil, stackImage{"tool:1", "amd64", "tool layer"})
	next, _ := writeStackMember(t, dir, "next.tar", nil,
		stackImage{"app:1", "amd64", "app layer"}, stackImage{"db:2", "arm64", "db layer"}, stackImage{"tool:2", "arm64", "tool layer"}, stackImage{"new:1", "amd64", "new layer"})
	layers := []string{"app layer", "db layer", "tool layer", "new layer"}
	tests := []struct {
		name   string
		bases  []string
		layers []string // the layers the delta holds
		images int      // that the stack of the bases and the delta shows
	}{
		{"no base", nil, layers, 4},
		{"one base", []string{base1}, []string{"tool layer", "new layer"}, 5},
		{"two bases", []string{base1, base2}, []string{"new layer"}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := writeDelta(t, next, tt.bases...)
			if again := writeDelta(t, next, tt.bases...); !bytes.Equal(data, again) {
				t.Fatal("two deltas of the same images against the same bases differ")
			}
			path := writeFile(t, "delta.tar", data)
			entries := readTar(t, data)
			for _, l := range layers {
				_, holds := tarFile(entries, blobPath(digest.FromString(l)))
				if want := slices.Contains(tt.layers, l); holds != want {
					t.Errorf("the delta holds %q: %v, want %v", l, holds, want)
				}
			}
			r, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			checkNonLayersHeld(t, r, entries)
			checkBases(t, r, tt.bases)
			stack := VerifyStack(append(slices.Clone(tt.bases), path), Options{})
			if len(stack.Problems) != 0 || stack.Images != tt.images {
				t.Errorf("verify of the stack: %d images, problems %v; want %d, none", stack.Images, stack.Problems, tt.images)
			}
		})
	}
}

// checkNonLayersHeld fails unless entries hold every manifest and config
// of the images of r.
func checkNonLayersHeld(t *testing.T, r *Reader, entries []tarEntry) {
	t.Helper()
	for _, img := range r.Images() {
		for _, b := range img.Blobs {
			if _, holds := tarFile(entries, blobPath(b.Digest)); !holds && b.MediaType != ocispec.MediaTypeImageLayer {
				t.Errorf("the delta lacks %s %s", b.MediaType, b.Digest)
			}
		}
	}
}

// checkBases fails unless r records the archives at paths as its bases.
func checkBases(t *testing.T, r *Reader, paths []string) {
	t.Helper()
	var want []Base
	for _, p := range paths {
		want = append(want, Base{BaseArchive, filepath.Base(p), tarFileDigest(t, p, "index.json")})
	}
	got, err := r.Bases()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Bases = %+v, %v; want %+v", got, err, want)
	}
	if len(paths) == 0 {
		return
	}
	var index ocispec.Index
	data, _ := r.readFile(indexFile, maxIndexSize)
	if err := json.Unmarshal(data, &index); err != nil || index.Annotations[AnnotationBases] == "" {
		t.Errorf("index.json %s has no %s annotation (%v)", data, AnnotationBases, err)
	}
}
