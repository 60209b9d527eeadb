package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func openStore(t *testing.T) *LayoutStore {
	t.Helper()
	return openStoreAt(t, filepath.Join(t.TempDir(), "store"))
}

// storeFiles lists the files under blobs/ of a store, and fails the test if
// one is not named by the digest of its content.
func storeFiles(t *testing.T, s *LayoutStore) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(filepath.Join(s.Dir(), ocispec.ImageBlobsDir), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if digest.FromBytes(data).Encoded() != d.Name() {
			return fmt.Errorf("%s does not hold the blob its name says", path)
		}
		names = append(names, d.Name())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestLayoutStorePutBlob(t *testing.T) {
	s := openStore(t)
	good := digest.FromString("content")
	tests := []struct {
		name    string
		body    string
		d       digest.Digest
		size    int64
		written bool
		err     error
	}{
		{"new", "content", good, 7, true, nil},
		{"held already", "content", good, 7, false, nil},
		{"unknown digest, held", "content", "", -1, false, nil},
		{"unknown digest, new", "other", "", -1, true, nil},
		{"wrong digest", "forged", digest.FromString("expected"), 6, false, archive.ErrDigestMismatch},
		{"longer than declared", "too long", digest.FromString("too long"), 3, false, archive.ErrSizeMismatch},
		{"shorter than declared", "short", digest.FromString("short"), 9, false, archive.ErrSizeMismatch},
		{"unsupported algorithm", "x", "md5:9dd4e461268c8034f5c8564e155c67a6", 1, false, archive.ErrUnsupportedDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := s.PutBlob(strings.NewReader(tt.body), tt.d, tt.size)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Digest != digest.FromString(tt.body) || b.Size != int64(len(tt.body)) || b.Written != tt.written {
				t.Errorf("stored %+v, want %s written=%v", b, digest.FromString(tt.body), tt.written)
			}
			rc, _, err := s.OpenBlob(b.Digest)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if data, err := io.ReadAll(rc); err != nil || string(data) != tt.body {
				t.Errorf("read back %q, %v", data, err)
			}
		})
	}
	if files := storeFiles(t, s); len(files) != 2 {
		t.Errorf("blobs/ holds %v, want the two good blobs and no temporary file", files)
	}
}

func TestLayoutStoreAddImages(t *testing.T) {
	s := openStore(t)
	var descs []ocispec.Descriptor
	for i := range 8 {
		b, err := s.PutBlob(strings.NewReader(fmt.Sprint("manifest ", i)), "", -1)
		if err != nil {
			t.Fatal(err)
		}
		descs = append(descs, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: b.Digest, Size: b.Size})
	}
	var wg sync.WaitGroup
	for i, d := range descs {
		wg.Go(func() {
			if err := s.AddImages(ListedImage{Name: fmt.Sprintf("example.com/image:%d", i), Descriptor: d}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	absent := ocispec.Descriptor{Digest: digest.FromString("absent")}
	steps := []struct {
		images []ListedImage
		err    error
	}{
		{[]ListedImage{{"example.com/image:0", descs[1]}}, nil}, // replaces
		{[]ListedImage{{"", descs[2]}}, nil},
		{[]ListedImage{{"", descs[2]}}, nil}, // unnamed, listed once
		{[]ListedImage{{"example.com/absent:1", absent}}, archive.ErrMissingBlob},
		{[]ListedImage{{"bad name!", descs[0]}}, archive.ErrBadSelector},
		{[]ListedImage{{"example.com/new:1", descs[0]}, {"example.com/absent:2", absent}}, archive.ErrMissingBlob}, // neither listed
	}
	for _, st := range steps {
		if err := s.AddImages(st.images...); !errors.Is(err, st.err) {
			t.Errorf("AddImages(%v): %v, want %v", st.images, err, st.err)
		}
	}
	images, err := s.Images()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]digest.Digest{}
	for _, img := range images {
		names[img.Annotations[ocispec.AnnotationRefName]] = img.Digest
	}
	if len(images) != 9 || names["example.com/image:0"] != descs[1].Digest || names[""] != descs[2].Digest {
		t.Errorf("index lists %v", images)
	}
	for _, img := range images {
		if name := img.Annotations[ocispec.AnnotationRefName]; name != "" && img.Annotations[archive.AnnotationContainerdImageName] != name {
			t.Errorf("annotations %v lack the full name", img.Annotations)
		}
	}
}

func TestLayoutStoreAddImagesConcurrently(t *testing.T) {
	const n = 40
	manifest := []byte("{}")
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}
	tests := []struct {
		name   string
		stores int // stores opened before the calls, used in turn; 0: each call opens its own on a new directory
	}{
		{"one store", 1},
		{"two stores of one directory", 2},
		{"a store per call, the directory created concurrently", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			var stores []*LayoutStore
			for range tt.stores {
				stores = append(stores, openStoreAt(t, dir))
			}
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					s, err := storeForCall(stores, dir, i)
					if err == nil {
						_, err = s.PutBlob(bytes.NewReader(manifest), desc.Digest, desc.Size)
					}
					if err == nil {
						err = s.AddImages(ListedImage{Name: fmt.Sprintf("example.com/image:%d", i), Descriptor: desc})
					}
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if images, err := openStoreAt(t, dir).Images(); err != nil || len(images) != n {
				t.Errorf("index.json lists %d images after %d concurrent AddImages (%v)", len(images), n, err)
			}
		})
	}
}

func storeForCall(stores []*LayoutStore, dir string, i int) (*LayoutStore, error) {
	if len(stores) == 0 {
		return OpenLayoutStore(dir)
	}
	return stores[i%len(stores)], nil
}

func openStoreAt(t *testing.T, dir string) *LayoutStore {
	t.Helper()
	s, err := OpenLayoutStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
