package registry

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testLayout builds OCI layout tars for the tests on testimage.Layout: each
// blob stored once, images listed under the names given, and blobs stored
// again with other bytes than their digest says (the last copy is served).
type testLayout struct {
	testimage.Layout
	index []ocispec.Descriptor
}

func newLayout() *testLayout {
	return &testLayout{}
}

// content is what the layout first stored as blob d.
func (l *testLayout) content(d digest.Digest) []byte {
	name := "blobs/sha256/" + d.Encoded()
	i := slices.IndexFunc(l.Files, func(f testimage.File) bool { return f.Name == name })
	return []byte(l.Files[i].Body)
}

// corrupt stores blob d again with its last byte flipped.
func (l *testLayout) corrupt(d digest.Digest) {
	data := l.content(d)
	data[len(data)-1] ^= 0xff
	l.Add("blobs/sha256/"+d.Encoded(), data)
}

// manifest stores an image manifest of a config unique to seed and layers.
func (l *testLayout) manifest(seed string, layers ...[]byte) ocispec.Descriptor {
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    l.Blob(ocispec.MediaTypeImageConfig, fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","seed":%q}`, seed)),
	}
	for _, layer := range layers {
		m.Layers = append(m.Layers, l.Blob(ocispec.MediaTypeImageLayer, layer))
	}
	return l.JSONBlob(ocispec.MediaTypeImageManifest, m)
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

// referrer stores an artifact manifest whose subject is subject and lists it,
// unnamed. The descriptor returned carries the manifest's annotations.
func (l *testLayout) referrer(subject ocispec.Descriptor, artifactType string) ocispec.Descriptor {
	subject.Annotations = nil
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       l.Blob(ocispec.MediaTypeEmptyJSON, []byte("{}")),
		Layers:       []ocispec.Descriptor{l.Blob("text/plain", []byte("about "+subject.Digest))},
		Subject:      &subject,
		Annotations:  map[string]string{"org.example.kind": artifactType},
	}
	d := l.JSONBlob(ocispec.MediaTypeImageManifest, m)
	l.list(d)
	d.Annotations = m.Annotations
	return d
}

// write writes the layout as a tar file in dir and returns its path.
func (l *testLayout) write(t testing.TB, dir, name string) string {
	t.Helper()
	l.Index(l.index...)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, l.Tar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
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
