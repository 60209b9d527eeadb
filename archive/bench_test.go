package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// benchLayout writes an OCI layout tar to a file through a large buffer.
type benchLayout struct {
	b     *testing.B
	f     *os.File
	bw    *bufio.Writer
	tw    *tar.Writer
	chunk []byte // pseudo-random content that generated layers repeat, stamped
}

func newBenchLayout(b *testing.B, path string) *benchLayout {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 4<<20)
	chunk := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(chunk); i += 8 {
		binary.LittleEndian.PutUint64(chunk[i:], rng.Uint64())
	}
	return &benchLayout{b: b, f: f, bw: bw, tw: tar.NewWriter(bw), chunk: chunk}
}

func (l *benchLayout) header(name string, size int64) {
	l.b.Helper()
	if err := l.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		l.b.Fatal(err)
	}
}

func (l *benchLayout) file(name string, data []byte) {
	l.b.Helper()
	l.header(name, int64(len(data)))
	if _, err := l.tw.Write(data); err != nil {
		l.b.Fatal(err)
	}
}

func (l *benchLayout) blob(mediaType string, data []byte) ocispec.Descriptor {
	l.b.Helper()
	d := digest.FromBytes(data)
	l.file("blobs/sha256/"+d.Encoded(), data)
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func (l *benchLayout) jsonBlob(mediaType string, v any) ocispec.Descriptor {
	l.b.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		l.b.Fatal(err)
	}
	return l.blob(mediaType, data)
}

// layer writes a layer of size bytes: 1 MiB chunks of pseudo-random bytes, each
// stamped with seed and its number so that no two are alike. The content is
// generated twice, to hash it and to write it, rather than held in memory.
func (l *benchLayout) layer(seed uint64, size int64) ocispec.Descriptor {
	l.b.Helper()
	each := func(fn func([]byte)) {
		for off, n := int64(0), uint64(0); off < size; off, n = off+int64(len(l.chunk)), n+1 {
			binary.LittleEndian.PutUint64(l.chunk[0:], seed)
			binary.LittleEndian.PutUint64(l.chunk[8:], n)
			fn(l.chunk[:min(int64(len(l.chunk)), size-off)])
		}
	}
	h := sha256.New()
	each(func(p []byte) { h.Write(p) })
	d := digest.NewDigest(digest.SHA256, h)
	l.header("blobs/sha256/"+d.Encoded(), size)
	each(func(p []byte) {
		if _, err := l.tw.Write(p); err != nil {
			l.b.Fatal(err)
		}
	})
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: size}
}

// image writes the config and the manifest of an image of layers.
func (l *benchLayout) image(n int, layers []ocispec.Descriptor) ocispec.Descriptor {
	l.b.Helper()
	config := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers"}}
	config.Config.Labels = map[string]string{"n": fmt.Sprint(n)}
	for _, d := range layers {
		config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, d.Digest)
	}
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    l.jsonBlob(ocispec.MediaTypeImageConfig, config),
		Layers:    layers,
	}
	m.SchemaVersion = 2
	d := l.jsonBlob(ocispec.MediaTypeImageManifest, m)
	d.Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("example.com/bench:%d", n)}
	return d
}

// finish writes oci-layout and an index.json of manifests, and closes the file.
func (l *benchLayout) finish(manifests []ocispec.Descriptor) {
	l.b.Helper()
	l.file(ociLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	index.SchemaVersion = 2
	data, err := json.Marshal(index)
	if err != nil {
		l.b.Fatal(err)
	}
	l.file(indexFile, data)
	if err := l.tw.Close(); err != nil {
		l.b.Fatal(err)
	}
	if err := l.bw.Flush(); err != nil {
		l.b.Fatal(err)
	}
	if err := l.f.Close(); err != nil {
		l.b.Fatal(err)
	}
}

// benchmarkOpen opens and closes the archive at path in the loop, and reports how
// many bytes indexing read and how many entries the archive has.
func benchmarkOpen(b *testing.B, path string, images int) {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	var r *Reader
	b.ResetTimer()
	for b.Loop() {
		if r, err = Open(path, Options{}); err != nil {
			b.Fatal(err)
		}
		if n := len(r.Images()); n != images {
			b.Fatalf("%d images, want %d", n, images)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(r.IndexBytesRead()), "index-bytes/op")
	b.ReportMetric(float64(len(r.Entries())), "entries")
	b.ReportMetric(float64(st.Size()), "archive-bytes")
}

// BenchmarkOpen opens a 512 MiB OCI layout of one image of four 128 MiB layers.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.tar")
	l := newBenchLayout(b, path)
	var layers []ocispec.Descriptor
	for i := range 4 {
		layers = append(layers, l.layer(uint64(i), 128<<20))
	}
	l.finish([]ocispec.Descriptor{l.image(0, layers)})
	benchmarkOpen(b, path, 1)
}

// BenchmarkOpenManyBlobs opens a layout of 200 images of 10 tiny layers each:
// 2000 layers, 200 configs and 200 manifests.
func BenchmarkOpenManyBlobs(b *testing.B) {
	path := filepath.Join(b.TempDir(), "many.tar")
	l := newBenchLayout(b, path)
	var manifests []ocispec.Descriptor
	for i := range 200 {
		var layers []ocispec.Descriptor
		for j := range 10 {
			layers = append(layers, l.blob(ocispec.MediaTypeImageLayer, fmt.Appendf(nil, "layer %d of image %d", j, i)))
		}
		manifests = append(manifests, l.image(i, layers))
	}
	l.finish(manifests)
	benchmarkOpen(b, path, 200)
}

// BenchmarkOpenBlobRead reads a 64 MiB blob as containers/image's copy engine
// does when it copies it: through OpenBlob's verification and a second
// SHA-256 of its own, into a writer, 32 KiB at a time.
func BenchmarkOpenBlobRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "blob.tar")
	l := newBenchLayout(b, path)
	layer := l.layer(9, 64<<20)
	l.finish([]ocispec.Descriptor{l.image(0, []ocispec.Descriptor{layer})})
	r, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.SetBytes(layer.Size)
	for b.Loop() {
		rc, _, err := r.OpenBlob(layer.Digest)
		if err != nil {
			b.Fatal(err)
		}
		engine := sha256.New()
		if _, err := io.CopyBuffer(io.Discard, io.TeeReader(rc, engine), make([]byte, 32<<10)); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkWriterPutBlob writes blobs of known digest into an archive file:
// many small ones, as in an archive of many images, and one large layer.
func BenchmarkWriterPutBlob(b *testing.B) {
	tests := []struct {
		name        string
		blobs, size int
	}{
		{"2000x1KiB", 2000, 1 << 10},
		{"1x64MiB", 1, 64 << 20},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			blobs := make([][]byte, tt.blobs)
			digests := make([]digest.Digest, tt.blobs)
			for i := range blobs {
				blobs[i] = testimage.Bytes(uint64(i), tt.size)
				digests[i] = digest.FromBytes(blobs[i])
			}
			path := filepath.Join(b.TempDir(), "out.tar")
			b.SetBytes(int64(tt.blobs * tt.size))
			for b.Loop() {
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				w := NewWriter(f, WriterOptions{})
				for i, data := range blobs {
					if _, _, err := w.PutBlob(bytes.NewReader(data), digests[i], int64(len(data))); err != nil {
						b.Fatal(err)
					}
				}
				f.Close()
			}
		})
	}
}
