package registry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testLayout builds an OCI layout tar for the tests: blobs, images named as
// given, and, for the integrity tests, blobs stored with other bytes than
// their digest says.
type testLayout struct {
	blobs   map[digest.Digest][]byte
	order   []digest.Digest
	index   []ocispec.Descriptor
	corrupt map[digest.Digest]bool
}

func newLayout() *testLayout {
	return &testLayout{blobs: map[digest.Digest][]byte{}, corrupt: map[digest.Digest]bool{}}
}

func (l *testLayout) blob(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	if _, ok := l.blobs[d]; !ok {
		l.blobs[d] = data
		l.order = append(l.order, d)
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// manifest stores an image manifest of a config unique to seed and layers.
func (l *testLayout) manifest(seed string, layers ...[]byte) ocispec.Descriptor {
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    l.blob(ocispec.MediaTypeImageConfig, fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","seed":%q}`, seed)),
	}
	for _, layer := range layers {
		m.Layers = append(m.Layers, l.blob(ocispec.MediaTypeImageLayer, layer))
	}
	return l.blob(ocispec.MediaTypeImageManifest, mustJSON(m))
}

// image stores a manifest and lists it in index.json under names (ref.name
// first, io.containerd.image.name second).
func (l *testLayout) image(names []string, seed string, layers ...[]byte) ocispec.Descriptor {
	d := l.manifest(seed, layers...)
	l.list(d, names...)
	return d
}

func (l *testLayout) list(d ocispec.Descriptor, names ...string) {
	keys := []string{ocispec.AnnotationRefName, archive.AnnotationContainerdImageName}
	for i, n := range names {
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[keys[i]] = n
	}
	l.index = append(l.index, d)
}

// referrer stores an artifact manifest whose subject is subject and lists it, unnamed.
func (l *testLayout) referrer(subject ocispec.Descriptor, artifactType string) ocispec.Descriptor {
	subject.Annotations = nil
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       l.blob(ocispec.MediaTypeEmptyJSON, []byte("{}")),
		Layers:       []ocispec.Descriptor{l.blob("text/plain", []byte("about "+subject.Digest))},
		Subject:      &subject,
		Annotations:  map[string]string{"org.example.kind": artifactType},
	}
	d := l.blob(ocispec.MediaTypeImageManifest, mustJSON(m))
	l.list(d)
	d.Annotations = m.Annotations
	return d
}

// write writes the layout as a tar file in dir and returns its path.
func (l *testLayout) write(t *testing.T, dir, name string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	add(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	for _, d := range l.order {
		data := l.blobs[d]
		if l.corrupt[d] {
			data = slices.Clone(data)
			data[len(data)-1] ^= 0xff
		}
		add("blobs/sha256/"+d.Encoded(), data)
	}
	add(ocispec.ImageIndexFile, mustJSON(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: l.index}))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// randomBytes are n bytes of a PRNG seeded with seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fileSum is the SHA-256 of a file, to show it is unchanged.
func fileSum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// openArchive opens path for a test; the Handler closes it.
func openArchive(t *testing.T, path, repo string) Archive {
	t.Helper()
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Archive{Reader: r, Repo: repo}
}
