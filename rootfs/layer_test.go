package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/compression"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// memBlobs is an archive.BlobOpener over blobs held in memory.
type memBlobs map[digest.Digest][]byte

func (m memBlobs) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	data, ok := m[d]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", archive.ErrMissingBlob, d)
	}
	v, err := archive.NewVerifiedReader(io.NopCloser(bytes.NewReader(data)), "blob "+d.String(), d, int64(len(data)))
	return v, int64(len(data)), err
}

// add stores data compressed with c and returns its layer descriptor.
func (m memBlobs) add(t testing.TB, c compression.Format, data []byte) ocispec.Descriptor {
	t.Helper()
	blob := compress(t, c, data)
	d := digest.FromBytes(blob)
	m[d] = blob
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(blob))}
}

func compress(t testing.TB, c compression.Format, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch c {
	case compression.Uncompressed:
		return data
	case compression.Gzip:
		w = gzip.NewWriter(&buf)
	case compression.Zstd:
		w, err = zstd.NewWriter(&buf)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerEntry is one entry of a layer built by layerTar.
type layerEntry struct {
	hdr  tar.Header
	body string
}

var entryTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func regEntry(name string, mode int64, body string) layerEntry {
	return layerEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: entryTime}, body}
}

func dirEntry(name string, mode int64) layerEntry {
	return layerEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: entryTime}}
}

func symlinkEntry(name, target string) layerEntry {
	return layerEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: entryTime}}
}

func linkEntry(name, target string) layerEntry {
	return layerEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: entryTime}}
}

func whiteoutEntry(name string) layerEntry { return regEntry(name, 0, "") }

// layerTar writes entries, in the order given, as a layer tar.
func layerTar(t testing.TB, entries ...layerEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := tw.WriteHeader(&e.hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpenLayer(t *testing.T) {
	layer := layerTar(t, regEntry("a", 0o644, "alpha"))
	blobs := memBlobs{}
	gz := blobs.add(t, compression.Gzip, layer)
	corrupt := ocispec.Descriptor{Digest: digest.FromString("not the content")}
	blobs[corrupt.Digest] = compress(t, compression.Gzip, layer)
	tests := []struct {
		name  string
		layer ocispec.Descriptor
		want  error // nil: the stream is layer
	}{
		{"compression.Uncompressed", blobs.add(t, compression.Uncompressed, layer), nil},
		{"gzip", gz, nil},
		{"zstd", blobs.add(t, compression.Zstd, layer), nil},
		{"gzip blob with a zstd media type", ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerZstd, Digest: gz.Digest}, nil},
		{"blob failing its digest", corrupt, archive.ErrDigestMismatch},
		{"missing blob", ocispec.Descriptor{Digest: digest.FromString("absent")}, archive.ErrMissingBlob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readLayer(blobs, tt.layer)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, layer) {
					t.Errorf("read %d bytes that differ from the %d of the layer tar", len(got), len(layer))
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "layer "+tt.layer.Digest.String()) {
				t.Errorf("error %q does not name the layer", err)
			}
		})
	}
}

func readLayer(b archive.BlobOpener, layer ocispec.Descriptor) ([]byte, error) {
	rc, err := OpenLayer(b, layer)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestExtractLayers(t *testing.T) {
	tars := [][]byte{layerTar(t, regEntry("one", 0o644, "1")), layerTar(t, regEntry("two", 0o644, "2"))}
	blobs := memBlobs{}
	layers := []ocispec.Descriptor{blobs.add(t, compression.Gzip, tars[0]), blobs.add(t, compression.Zstd, tars[1])}
	diffIDs := []digest.Digest{digest.FromBytes(tars[0]), digest.FromBytes(tars[1])}
	stale := []byte("stale content under layer 1's name")
	tests := []struct {
		name    string
		opts    ExtractOptions
		present []byte   // content of layer 1's file before, nil for none
		want    [][]byte // content of the files returned
	}{
		{"sequential", ExtractOptions{Concurrency: 1}, nil, tars},
		{"concurrent", ExtractOptions{}, nil, tars},
		{"more workers than layers", ExtractOptions{Concurrency: 8}, nil, tars},
		{"present file trusted", ExtractOptions{}, stale, [][]byte{stale, tars[1]}},
		{"present file reverified", ExtractOptions{Reverify: true}, stale, tars},
		{"present good file reverified", ExtractOptions{Reverify: true}, tars[0], tars},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.present != nil {
				if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "sha256", diffIDs[0].Encoded()), tt.present, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			files, err := ExtractLayers(context.Background(), blobs, layers, diffIDs, dir, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFiles(files)
			for i, f := range files {
				if want := filepath.Join(dir, "sha256", diffIDs[i].Encoded()); f.Name() != want {
					t.Errorf("file %d is %s, want %s", i, f.Name(), want)
				}
				got, err := io.ReadAll(f)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tt.want[i]) {
					t.Errorf("file %d holds %q, want %q", i, got, tt.want[i])
				}
			}
			if names := dirNames(t, filepath.Join(dir, "sha256")); len(names) != 2 {
				t.Errorf("%s holds %q, want the two layers only", dir, names)
			}
		})
	}
}

func TestExtractLayersFails(t *testing.T) {
	good := layerTar(t, regEntry("good", 0o644, "g"))
	bad := layerTar(t, regEntry("bad", 0o644, "b"))
	blobs := memBlobs{}
	layers := []ocispec.Descriptor{blobs.add(t, compression.Gzip, good), blobs.add(t, compression.Gzip, bad)}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		diffIDs []digest.Digest
		want    error
		text    string // in the error
	}{
		{"DiffID mismatch", context.Background(), []digest.Digest{digest.FromBytes(good), digest.FromString("not layer 2")}, archive.ErrDigestMismatch, "layer 2 of 2 (" + layers[1].Digest.String() + ")"},
		{"a DiffID short", context.Background(), []digest.Digest{digest.FromBytes(good)}, archive.ErrInvalidMetadata, "extracting layers: invalid metadata: 2 layers and 1 DiffIDs"},
		{"DiffID not a digest", context.Background(), []digest.Digest{digest.FromBytes(good), "sha256:../../etc"}, archive.ErrInvalidMetadata, "extracting layers: invalid metadata: DiffID of layer 2 of 2"},
		{"context cancelled", cancelled, []digest.Digest{digest.FromBytes(good), digest.FromBytes(bad)}, context.Canceled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := ExtractLayers(tt.ctx, blobs, layers, tt.diffIDs, dir, ExtractOptions{Concurrency: 1})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %v, want %v mentioning %q", err, tt.want, tt.text)
			}
			if files != nil {
				t.Errorf("files returned with the error: %v", files)
			}
			for _, name := range dirNames(t, filepath.Join(dir, "sha256")) {
				if name != tt.diffIDs[0].Encoded() {
					t.Errorf("%s holds %s, want at most layer 1's file", dir, name)
				}
			}
		})
	}
}

// dirNames lists dir, nil if it does not exist.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return slices.Sorted(slices.Values(names))
}

// BenchmarkExtractLayers extracts four gzip layers of 8 MiB of text each,
// one at a time and then concurrently.
func BenchmarkExtractLayers(b *testing.B) {
	const layerSize = 8 << 20
	blobs := memBlobs{}
	var layers []ocispec.Descriptor
	var diffIDs []digest.Digest
	for i := range 4 {
		layer := layerTar(b, regEntry("log.txt", 0o644, benchText(i, layerSize)))
		layers = append(layers, blobs.add(b, compression.Gzip, layer))
		diffIDs = append(diffIDs, digest.FromBytes(layer))
	}
	for _, bench := range []struct {
		name        string
		concurrency int
	}{{"sequential", 1}, {"concurrent", 0}} {
		b.Run(bench.name, func(b *testing.B) {
			b.SetBytes(int64(len(layers) * layerSize))
			for b.Loop() {
				dir, err := os.MkdirTemp(b.TempDir(), "layers")
				if err != nil {
					b.Fatal(err)
				}
				files, err := ExtractLayers(context.Background(), blobs, layers, diffIDs, dir, ExtractOptions{Concurrency: bench.concurrency})
				if err != nil {
					b.Fatal(err)
				}
				closeFiles(files)
			}
		})
	}
}

// benchText is size bytes of numbered log lines, which compress about as
// well as the binaries and text of real layers.
func benchText(seed, size int) string {
	var sb strings.Builder
	for n := 0; sb.Len() < size; n++ {
		fmt.Fprintf(&sb, "%08d layer %d: request %x served in %d ms\n", n, seed, n*2654435761, (n*seed)%997)
	}
	return sb.String()[:size]
}
