package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/pending"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestLayoutStorePrune: Prune removes the blobs a failed load and a stray
// PutBlob left, and the temporary files of writes that never finished; it
// keeps every blob of the listed images and files it does not recognize.
func TestLayoutStorePrune(t *testing.T) {
	s := openStore(t)
	if _, err := Load(s, streamOf(t, "../testdata/sample.docker.tar"), archive.Options{}); err != nil {
		t.Fatal(err)
	}
	listed := storeFiles(t, s)
	if _, err := Load(s, bytes.NewReader(lackingLayer(t)), archive.Options{}); !errors.Is(err, archive.ErrMissingBlob) {
		t.Fatalf("loading an image lacking a layer: %v, want %v", err, archive.ErrMissingBlob)
	}
	if _, err := s.PutBlob(strings.NewReader("stray"), "", -1); err != nil {
		t.Fatal(err)
	}
	var orphans int
	var orphanBytes int64
	for _, name := range storeFiles(t, s) {
		if !slices.Contains(listed, name) {
			n, _, _ := s.StatBlob(digest.NewDigestFromEncoded(digest.SHA256, name))
			orphans, orphanBytes = orphans+1, orphanBytes+n
		}
	}
	if orphans < 2 {
		t.Fatalf("%d orphans; the failed load and PutBlob should have left some", orphans)
	}
	sha256Dir := filepath.Join(s.Dir(), ocispec.ImageBlobsDir, "sha256")
	temporary := []string{filepath.Join(sha256Dir, ".incoming"+pending.Mark+"123"), filepath.Join(s.Dir(), "."+ocispec.ImageIndexFile+pending.Mark+"456")}
	unknown := filepath.Join(sha256Dir, "README")
	for _, path := range append(temporary, unknown) {
		if err := os.WriteFile(path, []byte("left"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	got, err := s.Prune()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Pruned{Blobs: orphans, Bytes: orphanBytes, Temporary: len(temporary)}); got != want {
		t.Errorf("Prune removed %+v, want %+v", got, want)
	}
	for _, path := range temporary {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there: %v", path, err)
		}
	}
	if err := os.Remove(unknown); err != nil {
		t.Errorf("a file Prune does not recognize is gone: %v", err)
	}
	if left := storeFiles(t, s); !slices.Equal(left, listed) {
		t.Errorf("after pruning the store holds %v, want the listed image's blobs %v", left, listed)
	}
	r, err := archive.OpenDir(s.Dir(), archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if images := r.Images(); len(images) != 1 {
		t.Errorf("after pruning the store has %d images, want the loaded one", len(images))
	}
	for _, img := range r.Images() {
		for _, b := range img.Blobs {
			if err := readBlob(r, b.Digest); err != nil {
				t.Errorf("after pruning: %v", err)
			}
		}
	}
	if again, err := s.Prune(); err != nil || again != (Pruned{}) {
		t.Errorf("second Prune: %+v, %v; want nothing removed", again, err)
	}
}

// TestLayoutStorePruneWaitsForHolds: while the store is held, by Hold or by a
// Load in progress, Prune fails with ErrBusy and removes nothing.
func TestLayoutStorePruneWaitsForHolds(t *testing.T) {
	data, err := os.ReadFile("../testdata/sample.docker.tar")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hold func(t *testing.T, s *LayoutStore) (release func())
	}{
		{"Hold", func(t *testing.T, s *LayoutStore) func() {
			release, err := s.Hold()
			if err != nil {
				t.Fatal(err)
			}
			return release
		}},
		{"a Load reading its stream", func(t *testing.T, s *LayoutStore) func() {
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				_, err := Load(s, pr, archive.Options{})
				done <- err
			}()
			if _, err := pw.Write(data[:512]); err != nil { // returns once Load has read it
				t.Fatal(err)
			}
			return func() {
				pw.Write(data[512:])
				pw.Close()
				if err := <-done; err != nil {
					t.Errorf("Load: %v", err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			stray, err := s.PutBlob(strings.NewReader("stray"), "", -1)
			if err != nil {
				t.Fatal(err)
			}
			release := tt.hold(t, s)
			other := openStoreAt(t, s.Dir())
			if got, err := other.Prune(); !errors.Is(err, ErrBusy) || got != (Pruned{}) {
				t.Errorf("Prune while held: %+v, %v; want nothing removed and %v", got, err, ErrBusy)
			}
			if _, ok, _ := s.StatBlob(stray.Digest); !ok {
				t.Error("the stray blob was removed while the store was held")
			}
			release()
			if got, err := other.Prune(); err != nil || got.Blobs != 1 {
				t.Errorf("Prune once released: %+v, %v; want the stray blob removed", got, err)
			}
		})
	}
}

// TestLayoutStorePruneKeepsWhatListedImagesReach: whatever the media type a
// listed descriptor declares, Prune keeps what its manifest references, and
// what a referrer's subject is; it leaves temporary files that are not the
// store's own.
func TestLayoutStorePruneKeepsWhatListedImagesReach(t *testing.T) {
	put := func(t *testing.T, s *LayoutStore, mediaType string, data []byte) ocispec.Descriptor {
		t.Helper()
		b, err := s.PutBlob(bytes.NewReader(data), "", -1)
		if err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{MediaType: mediaType, Digest: b.Digest, Size: b.Size}
	}
	manifestOf := func(t *testing.T, s *LayoutStore, listedAs, layer string, subject *ocispec.Descriptor) ocispec.Descriptor {
		t.Helper()
		m := ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    put(t, s, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":[]}}`)),
			Layers:    []ocispec.Descriptor{put(t, s, ocispec.MediaTypeImageLayer, []byte(layer))},
			Subject:   subject,
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return put(t, s, listedAs, data)
	}
	tests := []struct {
		name string
		list func(t *testing.T, s *LayoutStore) ocispec.Descriptor
	}{
		{"an image manifest", func(t *testing.T, s *LayoutStore) ocispec.Descriptor {
			return manifestOf(t, s, ocispec.MediaTypeImageManifest, "layer", nil)
		}},
		{"a manifest listed as an artifact type", func(t *testing.T, s *LayoutStore) ocispec.Descriptor {
			return manifestOf(t, s, "application/vnd.oci.artifact.manifest.v1+json", "layer", nil)
		}},
		{"a manifest listed with no media type", func(t *testing.T, s *LayoutStore) ocispec.Descriptor {
			return manifestOf(t, s, "", "layer", nil)
		}},
		{"a manifest listed as an index", func(t *testing.T, s *LayoutStore) ocispec.Descriptor {
			return manifestOf(t, s, ocispec.MediaTypeImageIndex, "layer", nil)
		}},
		{"a referrer whose subject is not listed", func(t *testing.T, s *LayoutStore) ocispec.Descriptor {
			subject := manifestOf(t, s, ocispec.MediaTypeImageManifest, "subject layer", nil)
			return manifestOf(t, s, ocispec.MediaTypeImageManifest, "signature", &subject)
		}},
		{"a manifest with fields of unexpected types besides its digests", func(t *testing.T, s *LayoutStore) ocispec.Descriptor {
			layer := put(t, s, ocispec.MediaTypeImageLayer, []byte("layer"))
			doc := fmt.Sprintf(`{"schemaVersion":2,"layers":[{"digest":%q,"size":5.0,"annotations":{"n":1}}],"annotations":[1,2]}`, layer.Digest)
			return put(t, s, ocispec.MediaTypeImageManifest, []byte(doc))
		}},
		{"a docker schema 1 manifest", func(t *testing.T, s *LayoutStore) ocispec.Descriptor {
			layer := put(t, s, "", []byte("layer"))
			doc := fmt.Sprintf(`{"schemaVersion":1,"name":"x","tag":"1","fsLayers":[{"blobSum":%q}],"history":[{"v1Compatibility":"{}"}]}`, layer.Digest)
			return put(t, s, "application/vnd.docker.distribution.manifest.v1+prettyjws", []byte(doc))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			if err := s.AddImages(ListedImage{Name: "example.com/x:1", Descriptor: tt.list(t, s)}); err != nil {
				t.Fatal(err)
			}
			reached := storeFiles(t, s)
			put(t, s, "", []byte("stray"))
			foreign := filepath.Join(s.Dir(), ".out.tar"+pending.Mark+"123") // an ocitar copy writing into the directory
			if err := os.WriteFile(foreign, []byte("partial"), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := s.Prune()
			if err != nil || got.Blobs != 1 || got.Temporary != 0 {
				t.Errorf("Prune: %+v, %v; want the stray blob alone removed", got, err)
			}
			if left := storeFiles(t, s); !slices.Equal(left, reached) {
				t.Errorf("after pruning the store holds %v, want %v", left, reached)
			}
			if _, err := os.Stat(foreign); err != nil {
				t.Errorf("another program's temporary file was removed: %v", err)
			}
		})
	}
}

// TestLayoutStorePruneRefuses: a reachable JSON object that Prune cannot read
// whole, or whose references do not decode, makes it remove nothing.
func TestLayoutStorePruneRefuses(t *testing.T) {
	tests := []struct {
		name string
		doc  func(layer digest.Digest) string
	}{
		{"a manifest larger than a manifest may be", func(layer digest.Digest) string {
			return fmt.Sprintf(`{"layers":[{"digest":%q}],"annotations":{"big":%q}}`, layer, strings.Repeat("x", archive.MaxManifestSize))
		}},
		{"references of the wrong type", func(layer digest.Digest) string {
			return fmt.Sprintf(`{"layers":{"digest":%q}}`, layer)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			layer, err := s.PutBlob(strings.NewReader("layer"), "", -1)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.PutBlob(strings.NewReader(tt.doc(layer.Digest)), "", -1)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.AddImages(ListedImage{Name: "example.com/x:1", Descriptor: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: m.Digest, Size: m.Size}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.PutBlob(strings.NewReader("stray"), "", -1); err != nil {
				t.Fatal(err)
			}
			before := storeFiles(t, s)
			if got, err := s.Prune(); err == nil || got != (Pruned{}) {
				t.Errorf("Prune: %+v, %v; want an error and nothing removed", got, err)
			}
			if after := storeFiles(t, s); !slices.Equal(after, before) {
				t.Errorf("the store held %v, now %v", before, after)
			}
		})
	}
}

// readBlob reads blob d of o to its end, verified.
func readBlob(o archive.BlobOpener, d digest.Digest) error {
	rc, _, err := o.OpenBlob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}
