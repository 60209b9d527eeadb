package archive

import (
	"archive/tar"
	"bytes"
	_ "crypto/sha512" // so that sha512 digests can be made

	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// output is where a test writes an archive.
type output int

const (
	toFile         output = iota // a file, which Writer seeks in
	toPipe                       // a writer without Seek, as a pipe
	toFileAtOffset               // a file already holding other bytes, the archive after them
)

func (o output) String() string {
	return [...]string{"file", "pipe", "file at an offset"}[o]
}

// filePrefix is what a toFileAtOffset file holds before the archive.
var filePrefix = bytes.Repeat([]byte("before the archive "), 50)

// writeArchive writes an archive to out with fill and Close, and returns the
// archive's bytes and Close's error.
func writeArchive(t *testing.T, out output, opts WriterOptions, fill func(w *Writer)) ([]byte, error) {
	t.Helper()
	if out == toPipe {
		var buf bytes.Buffer
		w := NewWriter(struct{ io.Writer }{&buf}, opts)
		fill(w)
		err := w.Close()
		return buf.Bytes(), err
	}
	f, err := os.CreateTemp(t.TempDir(), "archive-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var prefix []byte
	if out == toFileAtOffset {
		prefix = filePrefix
		if _, err := f.Write(prefix); err != nil {
			t.Fatal(err)
		}
	}
	w := NewWriter(f, opts)
	fill(w)
	closeErr := w.Close()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, prefix) {
		t.Fatalf("the bytes before the archive were overwritten")
	}
	return data[len(prefix):], closeErr
}

// declare is what PutBlob is told about a blob: its digest and size, or "" and -1.
type declare func(data []byte) (digest.Digest, int64)

var (
	declareAll      declare = func(b []byte) (digest.Digest, int64) { return digest.FromBytes(b), int64(len(b)) }
	declareNone     declare = func([]byte) (digest.Digest, int64) { return "", -1 }
	declareDigest   declare = func(b []byte) (digest.Digest, int64) { return digest.FromBytes(b), -1 }
	declareSizeOnly declare = func(b []byte) (digest.Digest, int64) { return "", int64(len(b)) }
)

// putBlob stores data, told what decl says, and checks what PutBlob returns.
func putBlob(t *testing.T, w *Writer, decl declare, data []byte) {
	t.Helper()
	d, size := decl(data)
	gotD, gotSize, err := w.PutBlob(bytes.NewReader(data), d, size)
	if err != nil {
		t.Fatalf("PutBlob(%d bytes, %q, %d): %v", len(data), d, size, err)
	}
	if gotD != digest.FromBytes(data) || gotSize != int64(len(data)) {
		t.Fatalf("PutBlob returned %s, %d; want %s, %d", gotD, gotSize, digest.FromBytes(data), len(data))
	}
	if n, ok := w.Has(gotD); !ok || n != int64(len(data)) {
		t.Fatalf("Has(%s) = %d, %v after PutBlob", gotD, n, ok)
	}
}

// testConfig is the config of putImage's images.
var testConfig = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)

// putImage stores a config, layers and a manifest, and lists the manifest
// under name, with a docker RepoTag when name has one.
func putImage(t *testing.T, w *Writer, decl declare, name string, layers ...[]byte) ocispec.Descriptor {
	t.Helper()
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest}
	putBlob(t, w, decl, testConfig)
	m.Config = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(testConfig), Size: int64(len(testConfig))}
	for _, l := range layers {
		putBlob(t, w, decl, l)
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(l), Size: int64(len(l))})
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := w.PutManifest(data, m.MediaType)
	if err != nil {
		t.Fatal(err)
	}
	desc.Annotations = NameAnnotations(name)
	var tags []string
	if tag, ok := RepoTag(name); ok {
		tags = append(tags, tag)
	}
	if err := w.AddImage(desc, tags); err != nil {
		t.Fatal(err)
	}
	return desc
}

// tarEntry is one entry of an archive, as archive/tar reads it.
type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

// readTar reads every entry of data with archive/tar, and checks that the
// archive ends right after its end-of-archive marker.
func readTar(t *testing.T, data []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var entries []tarEntry
	end := int64(2 * blockSize)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("archive/tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("archive/tar: %s: %v", hdr.Name, err)
		}
		entries = append(entries, tarEntry{hdr, body})
		end += blockSize + blocks(hdr.Size)
	}
	if int64(len(data)) != end {
		t.Fatalf("archive of %d bytes, its entries and end-of-archive marker take %d", len(data), end)
	}
	return entries
}

func entryNames(entries []tarEntry) []string {
	var names []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
	}
	return names
}

// tarFile is the body of the entry name, and whether there is one.
func tarFile(entries []tarEntry, name string) ([]byte, bool) {
	for _, e := range entries {
		if e.hdr.Name == name {
			return e.body, true
		}
	}
	return nil, false
}

// assertEmptyDir fails unless dir holds nothing.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("%s holds %d files, want none (%s...)", dir, len(entries), entries[0].Name())
	}
}

func TestWriterOutputsAreIdentical(t *testing.T) {
	layers := [][]byte{testimage.Bytes(1, 1<<20+123), {}, testimage.Bytes(2, 512), testimage.Bytes(3, 513)}
	var manifest ocispec.Descriptor
	fill := func(t *testing.T, decl declare) func(w *Writer) {
		return func(w *Writer) { manifest = putImage(t, w, decl, "example.com/x:1", layers...) }
	}
	want, err := writeArchive(t, toPipe, WriterOptions{}, fill(t, declareAll))
	if err != nil {
		t.Fatal(err)
	}

	// The reference itself: the blobs in the order they came, each whole.
	entries := readTar(t, want)
	wantNames := []string{"blobs/", "blobs/sha256/", blobPath(digest.FromBytes(testConfig))}
	for _, l := range layers {
		wantNames = append(wantNames, blobPath(digest.FromBytes(l)))
	}
	wantNames = append(wantNames, blobPath(manifest.Digest), ociLayoutFile, indexFile, dockerManifestFile, repositoriesFile)
	if got := entryNames(entries); !slices.Equal(got, wantNames) {
		t.Fatalf("entries\n%q, want\n%q", got, wantNames)
	}
	for _, l := range layers {
		if body, _ := tarFile(entries, blobPath(digest.FromBytes(l))); !bytes.Equal(body, l) {
			t.Errorf("blob %s: %d bytes stored, want its %d", digest.FromBytes(l), len(body), len(l))
		}
	}

	tests := []struct {
		name string
		decl declare
		out  output
	}{
		{"digest and size known", declareAll, toFile},
		{"digest and size known", declareAll, toFileAtOffset},
		{"nothing known, header patched", declareNone, toFile},
		{"nothing known, header patched", declareNone, toFileAtOffset},
		{"nothing known, spooled", declareNone, toPipe},
		{"digest known, header patched", declareDigest, toFile},
		{"size known, header patched", declareSizeOnly, toFile},
		{"size known, spooled", declareSizeOnly, toPipe},
		{"digest known, spooled", declareDigest, toPipe},
	}
	for _, tt := range tests {
		t.Run(tt.name+" to a "+tt.out.String(), func(t *testing.T) {
			tmp := t.TempDir()
			got, err := writeArchive(t, tt.out, WriterOptions{TempDir: tmp}, fill(t, tt.decl))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("archive of %d bytes differs from the %d bytes written with digests and sizes known", len(got), len(want))
			}
			assertEmptyDir(t, tmp)
		})
	}
}

// failingReader yields data, then fails with err, or ends when err is nil.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 && r.err == nil {
		return 0, io.EOF
	}
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestWriterDeduplicates(t *testing.T) {
	a, b := testimage.Bytes(4, 100_000), []byte("another blob")
	want, err := writeArchive(t, toPipe, WriterOptions{}, func(w *Writer) {
		putBlob(t, w, declareAll, a)
		putBlob(t, w, declareAll, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		first, second declare
		out           output
	}{
		{"known twice", declareAll, declareAll, toFile},
		{"known twice", declareAll, declareAll, toPipe},
		{"unknown twice", declareNone, declareNone, toFile},
		{"unknown twice", declareNone, declareNone, toPipe},
		{"known then unknown", declareAll, declareNone, toFile},
		{"known then unknown", declareAll, declareNone, toPipe},
		{"unknown then known", declareNone, declareAll, toFile},
		{"unknown then digest only", declareNone, declareDigest, toPipe},
	}
	for _, tt := range tests {
		t.Run(tt.name+" to a "+tt.out.String(), func(t *testing.T) {
			tmp := t.TempDir()
			got, err := writeArchive(t, tt.out, WriterOptions{TempDir: tmp}, func(w *Writer) {
				putBlob(t, w, tt.first, a)
				d, size := tt.second(a)
				var r io.Reader = bytes.NewReader(a)
				if d != "" {
					r = &failingReader{err: errors.New("a blob already stored was read again")}
				}
				gotD, gotSize, err := w.PutBlob(r, d, size)
				if err != nil || gotD != digest.FromBytes(a) || gotSize != int64(len(a)) {
					t.Fatalf("PutBlob again: %s, %d, %v; want %s, %d", gotD, gotSize, err, digest.FromBytes(a), len(a))
				}
				putBlob(t, w, declareAll, b)
			})
			if err != nil {
				t.Fatal(err)
			}
			blobs := 0
			for _, e := range readTar(t, got) {
				if strings.HasPrefix(e.hdr.Name, "blobs/") && e.hdr.Typeflag == tar.TypeReg {
					blobs++
				}
			}
			if blobs != 2 {
				t.Errorf("%d blob entries, want 2", blobs)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("archive differs from the one written with each blob once")
			}
			assertEmptyDir(t, tmp)
		})
	}
}

func TestWriterRejectsBadBlobs(t *testing.T) {
	content := testimage.Bytes(5, 64<<10) // larger than what follows it, so that what a rewind leaves must be truncated
	good1, good2 := []byte("good blob before"), []byte("good blob after")
	n := int64(len(content))
	errRead := errors.New("read failed")
	want, err := writeArchive(t, toPipe, WriterOptions{}, func(w *Writer) {
		putBlob(t, w, declareAll, good1)
		putBlob(t, w, declareAll, good2)
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte // what the reader yields
		err  error  // then, nil for EOF
		d    digest.Digest
		size int64
		want error
	}{
		{"digest differs", content, nil, digest.FromString("other"), n, ErrDigestMismatch},
		{"shorter than declared", content, nil, digest.FromBytes(content), n + 1, ErrSizeMismatch},
		{"longer than declared", content, nil, digest.FromBytes(content[:n-1]), n - 1, ErrSizeMismatch},
		{"digest unknown, shorter than declared", content, nil, "", n + 1, ErrSizeMismatch},
		{"digest unknown, longer than declared", content, nil, "", n - 1, ErrSizeMismatch},
		{"size unknown, digest differs", content, nil, digest.FromString("other"), -1, ErrDigestMismatch},
		{"read fails, digest and size known", content[:40000], errRead, digest.FromBytes(content), n, errRead},
		{"read fails, nothing known", content[:40000], errRead, "", -1, errRead},
		{"source fails its own check at its end", content, errRead, digest.FromBytes(content), n, errRead},
		{"read fails, digest known", content[:40000], errRead, digest.FromBytes(content), -1, errRead},
	}
	for _, tt := range tests {
		for _, out := range []output{toFile, toFileAtOffset, toPipe} {
			t.Run(tt.name+" to a "+out.String(), func(t *testing.T) {
				// A blob of known digest and size streams straight to the
				// output; any other goes to a pipe only once spooled and verified.
				corrupts := out == toPipe && tt.d != "" && tt.size >= 0
				tmp := t.TempDir()
				got, closeErr := writeArchive(t, out, WriterOptions{TempDir: tmp}, func(w *Writer) {
					putBlob(t, w, declareAll, good1)
					_, _, err := w.PutBlob(&failingReader{data: tt.data, err: tt.err}, tt.d, tt.size)
					if !errors.Is(err, tt.want) {
						t.Errorf("PutBlob: %v, want %v", err, tt.want)
					}
					for _, d := range []digest.Digest{tt.d, digest.FromBytes(tt.data), digest.FromBytes(content)} {
						if _, ok := w.Has(d); ok && d != "" {
							t.Errorf("Has(%s) after a failed PutBlob", d)
						}
					}
					_, _, err = w.PutBlob(bytes.NewReader(good2), digest.FromBytes(good2), int64(len(good2)))
					if (err != nil) != corrupts {
						t.Errorf("PutBlob after the failed one: %v", err)
					}
				})
				assertEmptyDir(t, tmp)
				if corrupts {
					if !errors.Is(closeErr, tt.want) {
						t.Errorf("Close: %v, want an error for the archive holding part of a failed blob (%v)", closeErr, tt.want)
					}
					return
				}
				if closeErr != nil {
					t.Fatalf("Close: %v", closeErr)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("archive of %d bytes differs from the %d written without the failed blob", len(got), len(want))
				}
			})
		}
	}
}

// imagePlatforms is how the platforms of img read.
func imagePlatforms(img Image) []string {
	var out []string
	for _, p := range img.Platforms {
		out = append(out, PlatformString(p))
	}
	return out
}

func blobDigests(img Image) []digest.Digest {
	var out []digest.Digest
	for _, b := range img.Blobs {
		out = append(out, b.Digest)
	}
	slices.Sort(out)
	return out
}

func TestWriterRoundTrip(t *testing.T) {
	b := &testimage.Layout{}
	single := testimage.Named(b.Image("amd64", "layer-a"), "example.com/a:1")
	multi := testimage.Named(b.JSONBlob(ocispec.MediaTypeImageIndex, indexOf(b.Image("amd64", "layer-a"), b.Image("arm64", "layer-b"))), "multi")
	b.Index(single, multi)
	layout, err := Open(writeFile(t, "layout.tar", b.Tar(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer layout.Close()
	legacy, err := Open("../testdata/sample.docker.tar", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer legacy.Close()
	const legacyTag = "example.com/ocitar/sample:1"
	wantImages := append(layout.Images(), legacy.Images()...)
	if len(wantImages) != 3 {
		t.Fatalf("%d source images, want 3", len(wantImages))
	}
	if got := wantImages[2].Names; !slices.Equal(got, []string{legacyTag}) {
		t.Fatalf("the legacy image is named %q, want %q", got, legacyTag)
	}

	tests := []struct {
		format Format
		out    output
	}{
		{FormatHybrid, toFile},
		{FormatOCI, toFile},
		{FormatHybrid, toPipe},
	}
	for _, tt := range tests {
		t.Run(map[Format]string{FormatHybrid: "hybrid", FormatOCI: "OCI"}[tt.format]+" to a "+tt.out.String(), func(t *testing.T) {
			data, err := writeArchive(t, tt.out, WriterOptions{Format: tt.format, TempDir: t.TempDir()}, func(w *Writer) {
				for _, img := range layout.Images() {
					if err := w.CopyImage(layout, img); err != nil {
						t.Fatal(err)
					}
				}
				for _, img := range legacy.Images() {
					if err := w.CopyImage(legacy, img); err != nil {
						t.Fatal(err)
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := Open(writeFile(t, "out.tar", data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			images := r.Images()
			if len(images) != len(wantImages) {
				t.Fatalf("%d images, want %d", len(images), len(wantImages))
			}
			for i, img := range images {
				want := wantImages[i]
				if img.Descriptor.Digest != want.Descriptor.Digest || img.Descriptor.MediaType != want.Descriptor.MediaType || img.Descriptor.Size != want.Descriptor.Size {
					t.Errorf("image %d: %s %s %d, want %s %s %d", i, img.Descriptor.MediaType, img.Descriptor.Digest, img.Descriptor.Size,
						want.Descriptor.MediaType, want.Descriptor.Digest, want.Descriptor.Size)
				}
				if !slices.Equal(img.Names, want.Names) {
					t.Errorf("image %d: names %q, want %q", i, img.Names, want.Names)
				}
				if got, want := imagePlatforms(img), imagePlatforms(want); !slices.Equal(got, want) {
					t.Errorf("image %d: platforms %q, want %q", i, got, want)
				}
				if got, want := blobDigests(img), blobDigests(want); !slices.Equal(got, want) {
					t.Errorf("image %d: blobs %s, want %s", i, got, want)
				}
				for _, bl := range img.Blobs {
					rc, size, err := r.OpenBlob(bl.Digest)
					if err != nil {
						t.Fatalf("image %d: %v", i, err)
					}
					n, err := io.Copy(io.Discard, rc)
					rc.Close()
					if err != nil || n != size || size != bl.Size {
						t.Errorf("image %d: blob %s: read %d bytes of %d, %d declared: %v", i, bl.Digest, n, size, bl.Size, err)
					}
				}
			}
			if got, want := images[2].Descriptor.Annotations, NameAnnotations(legacyTag); len(got) != 2 ||
				got[ocispec.AnnotationRefName] != legacyTag || got[AnnotationContainerdImageName] != want[AnnotationContainerdImageName] {
				t.Errorf("the legacy image's annotations %v, want %v", got, want)
			}

			entries := readTar(t, data)
			manifestData, hasManifest := tarFile(entries, dockerManifestFile)
			reposData, hasRepos := tarFile(entries, repositoriesFile)
			if tt.format == FormatOCI {
				if hasManifest || hasRepos {
					t.Errorf("the OCI format holds %s: %v, %s: %v", dockerManifestFile, hasManifest, repositoriesFile, hasRepos)
				}
				return
			}
			var items []dockerSaveItem
			if err := json.Unmarshal(manifestData, &items); err != nil {
				t.Fatalf("%s: %v", dockerManifestFile, err)
			}
			wantItems := []Image{wantImages[0], wantImages[2]} // the single-platform images, not the index
			if len(items) != len(wantItems) {
				t.Fatalf("%s lists %d images, want %d: %s", dockerManifestFile, len(items), len(wantItems), manifestData)
			}
			var lastLayer string
			for i, img := range wantItems {
				var src *Reader = layout
				if i == 1 {
					src = legacy
				}
				mdata, _, err := src.Manifest(img.Descriptor.Digest)
				if err != nil {
					t.Fatal(err)
				}
				var m ocispec.Manifest
				if err := json.Unmarshal(mdata, &m); err != nil {
					t.Fatal(err)
				}
				wantLayers := []string{}
				for _, l := range m.Layers {
					wantLayers = append(wantLayers, "blobs/sha256/"+l.Digest.Encoded())
				}
				lastLayer = m.Layers[len(m.Layers)-1].Digest.Encoded()
				if items[i].Config != "blobs/sha256/"+m.Config.Digest.Encoded() || !slices.Equal(items[i].Layers, wantLayers) {
					t.Errorf("%s image %d: config %s, layers %q; want %s, %q", dockerManifestFile, i,
						items[i].Config, items[i].Layers, "blobs/sha256/"+m.Config.Digest.Encoded(), wantLayers)
				}
			}
			if !slices.Equal(items[1].RepoTags, []string{legacyTag}) {
				t.Errorf("%s: the legacy image has RepoTags %q, want %q", dockerManifestFile, items[1].RepoTags, legacyTag)
			}
			var repos map[string]map[string]string
			if err := json.Unmarshal(reposData, &repos); err != nil {
				t.Fatalf("%s: %v", repositoriesFile, err)
			}
			if got := repos["example.com/ocitar/sample"]["1"]; got != lastLayer {
				t.Errorf("%s: %s, want example.com/ocitar/sample:1 at %s", repositoriesFile, reposData, lastLayer)
			}
		})
	}
}

func TestWriterAddImage(t *testing.T) {
	// Every row then adds a manifest never written, under a name already
	// listed, which must fail and change nothing.
	never := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("never written"), Size: 13,
		Annotations: NameAnnotations("x")}
	tests := []struct {
		name string
		adds []string // a name for each image added in turn, "" for none; image i is the manifest {"n":i}
		want []int    // the images index.json lists, in order
	}{
		{"distinct names are appended", []string{"x", "example.com/y:1"}, []int{0, 1}},
		{"a name replaces in place", []string{"x", "example.com/y:1", "x"}, []int{2, 1}},
		{"a name replaces in place, not first", []string{"example.com/y:1", "x", "z", "x"}, []int{0, 3, 2}},
		{"the last of a name wins", []string{"x", "x", "x"}, []int{2}},
		{"unnamed images are all kept", []string{"", "", "x"}, []int{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var descs []ocispec.Descriptor
			data, err := writeArchive(t, toPipe, WriterOptions{Format: FormatOCI}, func(w *Writer) {
				for i, name := range tt.adds {
					desc, err := w.PutManifest([]byte(fmt.Sprintf(`{"n":%d}`, i)), ocispec.MediaTypeImageManifest)
					if err != nil {
						t.Fatal(err)
					}
					if name != "" {
						desc.Annotations = NameAnnotations(name)
					}
					descs = append(descs, desc)
					if err := w.AddImage(desc, nil); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.AddImage(never, nil); !errors.Is(err, ErrMissingBlob) {
					t.Errorf("AddImage of a digest never written: %v, want %v", err, ErrMissingBlob)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			indexData, _ := tarFile(readTar(t, data), indexFile)
			var index ocispec.Index
			if err := json.Unmarshal(indexData, &index); err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, d := range index.Manifests {
				got = append(got, d.Digest.String()+" "+d.Annotations[ocispec.AnnotationRefName])
			}
			for _, i := range tt.want {
				want = append(want, descs[i].Digest.String()+" "+descs[i].Annotations[ocispec.AnnotationRefName])
			}
			if !slices.Equal(got, want) {
				t.Errorf("index.json lists\n%q, want\n%q", got, want)
			}
		})
	}
}

func TestWriterModTime(t *testing.T) {
	tests := []struct {
		modTime time.Time
		out     output
		want    int64
	}{
		{time.Unix(1700000000, 0), toFile, 1700000000},
		{time.Unix(1700000000, 0), toPipe, 1700000000},
		{time.Time{}, toFile, 0},
		{time.Time{}, toPipe, 0},
	}
	for _, tt := range tests {
		t.Run(tt.modTime.UTC().Format(time.RFC3339)+" to a "+tt.out.String(), func(t *testing.T) {
			data, err := writeArchive(t, tt.out, WriterOptions{ModTime: tt.modTime, TempDir: t.TempDir()}, func(w *Writer) {
				putBlob(t, w, declareAll, []byte("known"))
				putImage(t, w, declareNone, "example.com/x:1", []byte("patched or spooled"))
			})
			if err != nil {
				t.Fatal(err)
			}
			entries := readTar(t, data)
			if len(entries) != 10 { // 2 directories, 4 blobs, oci-layout, index.json, manifest.json, repositories
				t.Errorf("%d entries, want 10: %q", len(entries), entryNames(entries))
			}
			for _, e := range entries {
				h := e.hdr
				if h.ModTime.Unix() != tt.want || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
					t.Errorf("%s: mtime %d, owner %d:%d (%q:%q); want mtime %d, owner 0:0 without names",
						h.Name, h.ModTime.Unix(), h.Uid, h.Gid, h.Uname, h.Gname, tt.want)
				}
			}
		})
	}
}

func TestWriterRefusesUnwritableDigests(t *testing.T) {
	blob := []byte("sha512 blob")
	d := digest.SHA512.FromBytes(blob)
	got, err := writeArchive(t, toPipe, WriterOptions{}, func(w *Writer) {
		if _, _, err := w.PutBlob(bytes.NewReader(blob), d, int64(len(blob))); !errors.Is(err, ErrUnsupportedDigest) {
			t.Errorf("PutBlob(%s): %v, want %v", d.Algorithm(), err, ErrUnsupportedDigest)
		}
		putBlob(t, w, declareAll, []byte("a sha256 blob after it"))
	})
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, e := range readTar(t, got) {
		if strings.Contains(e.hdr.Name, "sha512") {
			t.Errorf("entry %q written for a refused blob", e.hdr.Name)
		}
	}
}

// TestWriterCopyImageTagsNamedImages: an image an OCI layout names by a docker
// reference gets that RepoTag in manifest.json, so docker load tags it.
func TestWriterCopyImageTagsNamedImages(t *testing.T) {
	b := &testimage.Layout{}
	b.Index(testimage.Named(b.Image("amd64", "layer"), "example.com/a:1"), testimage.Named(b.Image("arm64", "other"), "latest"))
	r, err := Open(writeFile(t, "src.tar", b.Tar(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := writeArchive(t, toFile, WriterOptions{}, func(w *Writer) {
		for _, img := range r.Images() {
			if err := w.CopyImage(r, img); err != nil {
				t.Fatal(err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	data, ok := tarFile(readTar(t, got), dockerManifestFile)
	if !ok {
		t.Fatal("no manifest.json")
	}
	var items []dockerSaveItem
	if err := json.Unmarshal(data, &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || !slices.Equal(items[0].RepoTags, []string{"example.com/a:1"}) || items[1].RepoTags != nil {
		t.Errorf("manifest.json items %+v; want RepoTags [example.com/a:1], then none for a bare tag", items)
	}
}

// TestWriterDockerManifestOfIndex: an index of which the archive holds one
// platform whole is listed in manifest.json as that platform, under the
// index's names, so docker before 25 loads it; with both platforms, or none
// whole, docker's manifest.json lists nothing, as it could not tell which.
func TestWriterDockerManifestOfIndex(t *testing.T) {
	tests := []struct {
		name      string
		platforms []string // of amd64 and arm64, those written whole
		want      int      // items of manifest.json
	}{
		{"one platform", []string{"amd64"}, 1},
		{"both platforms", []string{"amd64", "arm64"}, 0},
		{"no platform", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testimage.Layout{}
			manifests := map[string]ocispec.Descriptor{"amd64": b.Image("amd64", "amd64 layer"), "arm64": b.Image("arm64", "arm64 layer")}
			b.Index(manifests["amd64"], manifests["arm64"])
			src, err := Open(writeFile(t, "src.tar", b.Tar(t)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{manifests["amd64"], manifests["arm64"]}}
			indexData, _ := json.Marshal(idx)
			got, err := writeArchive(t, toFile, WriterOptions{}, func(w *Writer) {
				for _, p := range tt.platforms {
					for _, blob := range layoutBlobs(t, src, manifests[p]) {
						if _, err := w.CopyBlob(src, blob); err != nil {
							t.Fatal(err)
						}
					}
					data, mediaType, err := src.Manifest(manifests[p].Digest)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := w.PutManifest(data, mediaType); err != nil {
						t.Fatal(err)
					}
				}
				addNamed(t, w, indexData, ocispec.MediaTypeImageIndex, "example.com/multi:1")
			})
			if err != nil {
				t.Fatal(err)
			}
			items := dockerItems(t, got)
			if len(items) != tt.want {
				t.Fatalf("manifest.json items %+v, want %d", items, tt.want)
			}
			if tt.want == 1 && !slices.Equal(items[0].RepoTags, []string{"example.com/multi:1"}) {
				t.Errorf("manifest.json RepoTags %q, want the index's name", items[0].RepoTags)
			}
			if len(tt.platforms) == 0 {
				return
			}
			r, err := Open(writeFile(t, "out.tar", got), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if images := r.Images(); len(images) != 1 || images[0].Descriptor.Digest != digest.FromBytes(indexData) {
				t.Errorf("images %v, want the index alone", images)
			}
		})
	}
}

// layoutBlobs are the config and layers of manifest m of r.
func layoutBlobs(t *testing.T, r *Reader, m ocispec.Descriptor) []digest.Digest {
	t.Helper()
	data, _, err := r.Manifest(m.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	blobs := []digest.Digest{manifest.Config.Digest}
	for _, l := range manifest.Layers {
		blobs = append(blobs, l.Digest)
	}
	return blobs
}

// TestWriterCopyBlobRefusesCorruptContent: a blob whose stored bytes are not
// its digest (other content of the same size, or cut short) is not written,
// and the error names the source archive. CopyBlob relies on OpenBlob's
// check rather than hashing again.
func TestWriterCopyBlobRefusesCorruptContent(t *testing.T) {
	tests := []struct {
		name, stored string
		want         error
	}{
		{"other content", "the LAYER", ErrDigestMismatch},
		{"cut short", "the lay", ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testimage.Layout{}
			b.Index(testimage.Named(b.Image("amd64", "the layer"), "x"))
			layer := digest.FromString("the layer")
			b.Files = append(b.Files, testimage.File{Name: "blobs/sha256/" + layer.Encoded(), Body: tt.stored})
			src := writeFile(t, "src.tar", b.Tar(t))
			r, err := Open(src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, dest := range []output{toFile, toPipe} {
				var copyErr error
				writeArchive(t, dest, WriterOptions{}, func(w *Writer) {
					_, copyErr = w.CopyBlob(r, layer)
					if _, ok := w.Has(layer); ok {
						t.Errorf("%v: the corrupt blob is listed as written", dest)
					}
				})
				if !errors.Is(copyErr, tt.want) || !strings.Contains(copyErr.Error(), src) {
					t.Errorf("%v: CopyBlob: %v; want %v naming %s", dest, copyErr, tt.want, src)
				}
			}
		})
	}
}

// TestWriterDockerManifestLeavesOutArtifacts: docker's manifest.json lists
// only images whose layers are filesystem layers, not a cosign signature
// (an image config and a JSON layer), which docker load would apply as a tar.
func TestWriterDockerManifestLeavesOutArtifacts(t *testing.T) {
	tests := []struct {
		name      string
		layerType string
		listed    bool
	}{
		{"oci layer", ocispec.MediaTypeImageLayerGzip, true},
		{"docker layer", "application/vnd.docker.image.rootfs.diff.tar.gzip", true},
		{"cosign signature", "application/vnd.dev.cosign.simplesigning.v1+json", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := writeArchive(t, toFile, WriterOptions{}, func(w *Writer) {
				put := func(mediaType string, data []byte) ocispec.Descriptor {
					putBlob(t, w, declareAll, data)
					return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
				}
				config := put(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux"}`))
				layer := put(tt.layerType, []byte(`{"critical":{}}`))
				data, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}})
				addNamed(t, w, data, ocispec.MediaTypeImageManifest, "example.com/a:sha256-00.sig")
			})
			if err != nil {
				t.Fatal(err)
			}
			items := dockerItems(t, got)
			if listed := len(items) == 1; listed != tt.listed {
				t.Errorf("manifest.json items %+v; want the image listed: %v", items, tt.listed)
			}
		})
	}
}

// addNamed stores the manifest or index data and lists it as an image named name.
func addNamed(t *testing.T, w *Writer, data []byte, mediaType, name string) {
	t.Helper()
	desc, err := w.PutManifest(data, mediaType)
	if err != nil {
		t.Fatal(err)
	}
	desc.Annotations = NameAnnotations(name)
	if err := w.AddImage(desc, []string{name}); err != nil {
		t.Fatal(err)
	}
}

// dockerItems are the items of docker's manifest.json in the archive data,
// none when it has no manifest.json.
func dockerItems(t *testing.T, data []byte) []dockerSaveItem {
	t.Helper()
	var items []dockerSaveItem
	if manifest, ok := tarFile(readTar(t, data), dockerManifestFile); ok {
		if err := json.Unmarshal(manifest, &items); err != nil {
			t.Fatal(err)
		}
	}
	return items
}
