package recording

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/pending"
	"github.com/ocitar/ocitar/internal/testimage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkSnapshot writes a recording of one image of benchLayers layers of
// benchLayerSize bytes, read from memory, beside the same blobs written by
// an archive.Writer alone into a file renamed into place: the ratio is what
// a snapshot adds to writing an archive.
func BenchmarkSnapshot(b *testing.B) {
	const benchLayers, benchLayerSize = 4, 16 << 20
	var l testimage.Layout
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: l.Blob(ocispec.MediaTypeImageConfig, []byte(`{"os":"linux","architecture":"amd64"}`))}
	m.SchemaVersion = 2
	for i := range benchLayers {
		m.Layers = append(m.Layers, l.Blob(ocispec.MediaTypeImageLayer, testimage.Bytes(uint64(i), benchLayerSize)))
	}
	desc := l.JSONBlob(ocispec.MediaTypeImageManifest, m)
	content := newFakeContent(&l)
	content.tags["1"] = desc.Digest
	size := int64(benchLayers * benchLayerSize)

	b.Run("recording", func(b *testing.B) {
		r, err := New(context.Background(), filepath.Join(b.TempDir(), "out.tar"), content, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		content.serve(b, r, pull{"1", true})
		b.SetBytes(size)
		for b.Loop() {
			if _, err := r.Snapshot(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("writer", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "out.tar")
		b.SetBytes(size)
		for b.Loop() {
			f, err := pending.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			w := archive.NewWriter(f, archive.WriterOptions{})
			for _, layer := range append(m.Layers, m.Config) {
				if _, _, err := w.PutBlob(bytes.NewReader(content.blobs[layer.Digest]), layer.Digest, layer.Size); err != nil {
					b.Fatal(err)
				}
			}
			d, err := w.PutManifest(content.blobs[desc.Digest], desc.MediaType)
			if err == nil {
				d.Annotations = archive.NameAnnotations(repo + ":1")
				err = w.AddImage(d, []string{repo + ":1"})
			}
			if err == nil {
				err = w.Close()
			}
			if err == nil {
				err = f.Commit()
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
