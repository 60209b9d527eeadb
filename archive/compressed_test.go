package archive_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/cache"
	"github.com/ocitar/ocitar/internal/malicious"
	"github.com/ocitar/ocitar/internal/testimage"
	"github.com/ocitar/ocitar/source/gzindex"
	digest "github.com/opencontainers/go-digest"
)

// compressedForm makes one compressed form of a tar.
type compressedForm struct {
	name     string
	ext      string
	compress func(t *testing.T, plain []byte) []byte
	// kept is what a first open leaves in the cache: nothing, an index and
	// the blob of its windows, or an index and the files' content.
	kept string
}

func compressedForms() []compressedForm {
	return []compressedForm{
		{"plain", ".tar", func(_ *testing.T, plain []byte) []byte { return plain }, "nothing"},
		{"ocitar zstd", ".tar.zst", recompressed(archive.Zstd), "nothing"},
		{"ocitar gzip", ".tar.gz", recompressed(archive.Gzip), "nothing"},
		{"foreign gzip", ".tar.gz", gzipped, "index and its windows"},
		{"zstd frame without its size", ".tar.zst", zstdStream, "files"},
	}
}

func recompressed(c archive.Compression) func(*testing.T, []byte) []byte {
	return func(t *testing.T, plain []byte) []byte {
		var out bytes.Buffer
		if err := archive.Recompress(bytes.NewReader(plain), &out, c, archive.Options{}); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
}

func gzipped(t *testing.T, plain []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(plain)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// zstdStream is zstd written as a stream, one frame that does not record
// its size: it cannot be entered, as the frame of zstd -T0 cannot.
func zstdStream(t *testing.T, plain []byte) []byte {
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(plain)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// twoImageTar is a layout of two images whose layers are large enough to
// span several frames and checkpoints.
func twoImageTar(t *testing.T) []byte {
	l := &testimage.Layout{}
	l.Index(l.Image("amd64", string(testimage.Bytes(1, 9<<20))), l.Image("arm64", string(testimage.Bytes(2, 100))))
	return l.Tar(t)
}

// cacheFiles lists the index and blob files of the cache at dir with their mtimes.
func cacheFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	files := map[string]int64{}
	for _, sub := range []string{"index", "blobs"} {
		filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				info, _ := d.Info()
				files[path] = info.ModTime().UnixNano()
			}
			return nil
		})
	}
	return files
}

func kind(files map[string]int64) string {
	var index bool
	blobs := 0
	for path := range files {
		index = index || strings.Contains(path, "/index/")
		if strings.Contains(path, "/blobs/") {
			blobs++
		}
	}
	switch {
	case index && blobs == 1:
		return "index and its windows"
	case blobs > 0:
		return "files"
	case index:
		return "index"
	}
	return "nothing"
}

// readAll opens path and reads every blob of every image, verified.
func readAll(t *testing.T, path string, opts archive.Options) {
	t.Helper()
	r, err := archive.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Images()) != 2 {
		t.Fatalf("%d images, want 2", len(r.Images()))
	}
	for _, img := range r.Images() {
		for _, b := range img.Blobs {
			rc, _, err := r.OpenBlob(b.Digest)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				t.Fatalf("blob %s: %v", b.Digest, err)
			}
		}
	}
}

func TestOpenCompressed(t *testing.T) {
	plain := twoImageTar(t)
	for _, form := range compressedForms() {
		t.Run(form.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a"+form.ext)
			if err := os.WriteFile(path, form.compress(t, plain), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := cache.Open(filepath.Join(dir, "cache"), 0)
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			var notices []string
			opts := archive.Options{Cache: c, TempDir: tmp, Notice: func(m string) { notices = append(notices, m) }}
			readAll(t, path, opts)
			first := cacheFiles(t, c.Dir())
			if got := kind(first); got != form.kept {
				t.Errorf("the first open keeps %s in the cache, want %s", got, form.kept)
			}
			firstNotices := len(notices)
			readAll(t, path, opts)
			if next := cacheFiles(t, c.Dir()); !equalKeys(first, next) {
				t.Errorf("the next open changed the cache: %v, then %v", first, next)
			}
			if len(notices) != firstNotices {
				t.Errorf("the next open said %q", notices[firstNotices:])
			}
			if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
				t.Errorf("temporary files: %v", entries)
			}
		})
	}
}

func equalKeys(a, b map[string]int64) bool {
	ka, kb := slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b))
	return slices.Equal(ka, kb)
}

// TestOpenCompressedCacheIsNotTrusted: a cached index that does not fit the
// archive is said so and built again; a changed file is never read through
// the index of its old content.
func TestOpenCompressedCacheIsNotTrusted(t *testing.T) {
	plain := twoImageTar(t)
	tests := []struct {
		name  string
		form  func(*testing.T, []byte) []byte
		spoil func(t *testing.T, indexPath, archivePath string)
		said  string
	}{
		{"forged gzip index", gzipped, overwrite([]byte("garbage")), "does not fit"},
		{"forged files index", zstdStream, overwrite([]byte("garbage")), "does not fit"},
		{"gzip index pointing outside the archive", gzipped, forgeGzipIndex(func(t *testing.T, gi *gzindex.Index, _ []archive.Entry) {
			gi.Checkpoints[len(gi.Checkpoints)-1].Compressed = gi.Compressed + 1<<20
		}), "does not fit"},
		{"gzip index whose checkpoints are shifted", gzipped, forgeGzipIndex(func(t *testing.T, gi *gzindex.Index, _ []archive.Entry) {
			for i, cp := range gi.Checkpoints {
				if !cp.MemberStart {
					gi.Checkpoints[i].Compressed++
				}
			}
		}), "does not fit"},
		{"gzip index of another file", gzipped, swapContent(gzipped), ""},
		{"gzip index whose windows are damaged", gzipped, damageWindows, "checksum"},
		{"gzip index of the format before", gzipped, oldGzipIndex, "version 1"},
		{"gzip index whose windows were evicted, built again without a word", gzipped, removeWindows, ""},
		{"files index of another file", zstdStream, swapContent(zstdStream), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.tar.x")
			os.WriteFile(path, tt.form(t, plain), 0o644)
			c, err := cache.Open(filepath.Join(dir, "cache"), 0)
			if err != nil {
				t.Fatal(err)
			}
			var notices []string
			opts := archive.Options{Cache: c, Notice: func(m string) { notices = append(notices, m) }}
			readAll(t, path, opts)
			indexes, _ := filepath.Glob(filepath.Join(c.Dir(), "index", "*"))
			if len(indexes) != 1 {
				t.Fatalf("cache indexes: %v", indexes)
			}
			tt.spoil(t, indexes[0], path)
			notices = nil
			readAll(t, path, opts)
			if tt.said != "" && !slices.ContainsFunc(notices, func(m string) bool { return strings.Contains(m, tt.said) }) {
				t.Errorf("notices %q, want one saying %q", notices, tt.said)
			}
		})
	}
}

// oldGzipIndex marks the cached gzip index as of version 1, whose windows
// were inline, in a valid envelope of the cache and of the index.
func oldGzipIndex(t *testing.T, indexPath, _ string) {
	t.Helper()
	c, err := cache.Open(filepath.Dir(filepath.Dir(indexPath)), 0)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Base(indexPath)
	kept, err := c.ReadIndex(key)
	if err != nil {
		t.Fatal(err)
	}
	n, w := binary.Uvarint(kept)
	index := kept[w : w+int(n)]
	index[len("ocitargzindex")] = 1
	binary.LittleEndian.PutUint32(index[len(index)-4:], crc32.ChecksumIEEE(index[:len(index)-4]))
	if err := c.WriteIndex(key, kept); err != nil {
		t.Fatal(err)
	}
}

// windowsBlob is the path of the one blob of the cache whose index is at
// indexPath: the windows of a gzip index.
func windowsBlob(t *testing.T, indexPath string) string {
	t.Helper()
	blobs, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(indexPath)), "blobs", "sha256", "*"))
	if len(blobs) != 1 {
		t.Fatalf("cache blobs: %v, want the windows alone", blobs)
	}
	return blobs[0]
}

func removeWindows(t *testing.T, indexPath, _ string) {
	if err := os.Remove(windowsBlob(t, indexPath)); err != nil {
		t.Fatal(err)
	}
}

// damageWindows overwrites the blob of the windows of the cached gzip
// index with as many zeros: the cache's envelope of the index is whole,
// and every window fails its checksum.
func damageWindows(t *testing.T, indexPath, _ string) {
	blob := windowsBlob(t, indexPath)
	st, err := os.Stat(blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blob, make([]byte, st.Size()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// forgeGzipIndex changes the checkpoints of the cached gzip index and
// stores it again, in a valid envelope of the cache and of the index: only
// the archive tells it does not fit. forge is given the archive's entries.
func forgeGzipIndex(forge func(t *testing.T, gi *gzindex.Index, entries []archive.Entry)) func(*testing.T, string, string) {
	return func(t *testing.T, indexPath, archivePath string) {
		t.Helper()
		c, err := cache.Open(filepath.Dir(filepath.Dir(indexPath)), 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := archive.Open(archivePath, archive.Options{Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		entries := r.Entries()
		r.Close()
		key := filepath.Base(indexPath)
		kept, err := c.ReadIndex(key)
		if err != nil {
			t.Fatal(err)
		}
		// What the cache keeps of a gzip: the index's length as a uvarint,
		// the index, then the digest of its windows and the tar's entries.
		n, w := binary.Uvarint(kept)
		gi := new(gzindex.Index)
		if err := gi.UnmarshalBinary(kept[w : w+int(n)]); err != nil {
			t.Fatal(err)
		}
		forge(t, gi, entries)
		index, err := gi.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		forged := append(binary.AppendUvarint(nil, uint64(len(index))), index...)
		if err := c.WriteIndex(key, append(forged, kept[w+int(n):]...)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCachedIndexFailingARead: a cached gzip index that fits the archive
// everywhere the open reads, but lies about a checkpoint inside a large
// blob, is found out by the read that passes that checkpoint. That read
// fails, naming the file, the blob and the mismatch, and drops the index,
// so that the next open builds it again and reads every blob.
func TestCachedIndexFailingARead(t *testing.T) {
	plain := twoImageTar(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.tar.gz")
	os.WriteFile(path, gzipped(t, plain), 0o644)
	c, err := cache.Open(filepath.Join(dir, "cache"), 0)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, path, archive.Options{Cache: c})
	indexes, _ := filepath.Glob(filepath.Join(c.Dir(), "index", "*"))
	if len(indexes) != 1 {
		t.Fatalf("cache indexes: %v", indexes)
	}
	var large archive.Entry
	forgeGzipIndex(func(t *testing.T, gi *gzindex.Index, entries []archive.Entry) {
		for _, e := range entries {
			if e.Size > large.Size {
				large = e
			}
		}
		for i, cp := range gi.Checkpoints {
			if !cp.MemberStart && cp.Uncompressed > large.Offset+1<<20 && cp.Uncompressed < large.Offset+large.Size {
				gi.Checkpoints[i].Compressed++
				return
			}
		}
		t.Fatalf("no checkpoint inside %s", large.Name)
	})(t, indexes[0], path)

	var notices []string
	r, err := archive.Open(path, archive.Options{Cache: c, Notice: func(m string) { notices = append(notices, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != 0 {
		t.Errorf("the open said %q", notices)
	}
	var failed []error
	for _, b := range r.Images()[0].Blobs {
		if err := drainBlob(r, b.Digest); err != nil {
			failed = append(failed, err)
		}
	}
	r.Close()
	if len(failed) != 1 || !errors.Is(failed[0], gzindex.ErrIndexMismatch) || !strings.HasPrefix(failed[0].Error(), path+": "+large.Name+": ") {
		t.Errorf("blobs fail with %v, want one error naming %s and %s: %v", failed, path, large.Name, gzindex.ErrIndexMismatch)
	}
	if _, err := os.Stat(indexes[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the lying index is still in the cache: %v", err)
	}
	readAll(t, path, archive.Options{Cache: c})
	if kept := cacheFiles(t, c.Dir()); kind(kept) != "index and its windows" {
		t.Errorf("the cache holds %v, want the index built again", kept)
	}
}

// overwrite writes data over the cached index.
func overwrite(data []byte) func(*testing.T, string, string) {
	return func(t *testing.T, indexPath, _ string) {
		if err := os.WriteFile(indexPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// swapContent replaces the archive with another of the same form: its
// identity changes, so its old index must not be used.
func swapContent(form func(*testing.T, []byte) []byte) func(*testing.T, string, string) {
	return func(t *testing.T, _, archivePath string) {
		l := &testimage.Layout{}
		l.Index(l.Image("amd64", "other"), l.Image("arm64", "another"))
		if err := os.WriteFile(archivePath, form(t, l.Tar(t)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecompressKeepsTheTar(t *testing.T) {
	plain := twoImageTar(t)
	for _, c := range []archive.Compression{archive.Zstd, archive.Gzip, archive.Uncompressed} {
		t.Run(c.String(), func(t *testing.T) {
			for _, in := range [][]byte{plain, zstdStream(t, plain), gzipped(t, plain)} {
				var out bytes.Buffer
				if err := archive.Recompress(bytes.NewReader(in), &out, c, archive.Options{}); err != nil {
					t.Fatal(err)
				}
				again := recompressed(archive.Uncompressed)(t, out.Bytes())
				if !bytes.Equal(again, plain) {
					t.Fatal("the tar changed")
				}
				var twice bytes.Buffer
				archive.Recompress(bytes.NewReader(in), &twice, c, archive.Options{})
				if !bytes.Equal(out.Bytes(), twice.Bytes()) {
					t.Error("not reproducible")
				}
			}
		})
	}
}

func TestRecompressRefusesNonTar(t *testing.T) {
	err := archive.Recompress(strings.NewReader(strings.Repeat("x", 2000)), io.Discard, archive.Zstd, archive.Options{})
	if !errors.Is(err, archive.ErrNotArchive) {
		t.Fatalf("Recompress: %v, want ErrNotArchive", err)
	}
}

// TestCorruptBlobAlone: a compressed archive whose frame or member holding
// one blob's data is corrupt (the cases of the malicious corpus) opens, and
// serves every other blob; that blob fails with an error naming the file and
// its entry, in the content decoded and through its section alike.
func TestCorruptBlobAlone(t *testing.T) {
	for _, name := range []string{"corrupt-deflate-block.tar.gz", "corrupt-zstd-frame.tar.zst", "gzip-wrong-crc.tar.gz", "gzip-wrong-isize.tar.gz"} {
		t.Run(name, func(t *testing.T) {
			path, err := filepath.Abs(filepath.Join("../testdata/malicious", name))
			if err != nil {
				t.Fatal(err)
			}
			r, err := archive.Open(path, archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var failed []string
			for _, b := range r.Images()[0].Blobs {
				err := drainBlob(r, b.Digest)
				sec, serr := r.BlobSection(b.Digest)
				if serr == nil {
					_, serr = io.Copy(io.Discard, sec)
				}
				if (err == nil) != (serr == nil) {
					t.Errorf("blob %s: OpenBlob: %v, its section: %v", b.Digest, err, serr)
				}
				if err == nil {
					continue
				}
				failed = append(failed, b.MediaType)
				entry := "blobs/sha256/" + b.Digest.Encoded()
				for _, err := range []error{err, serr} {
					if msg := err.Error(); !strings.HasPrefix(msg, path+": "+entry+": ") || strings.Count(msg, path) != 1 {
						t.Errorf("blob %s: %q, want an error naming %s once, then %s", b.Digest, msg, path, entry)
					}
				}
			}
			if len(failed) != 1 || failed[0] != "application/vnd.oci.image.layer.v1.tar" {
				t.Errorf("the blobs that fail are of %v, want the layer alone", failed)
			}
		})
	}
}

// putCounter is a cache that counts the blobs an extraction staged.
type putCounter struct {
	*cache.Cache
	added int
}

func (c *putCounter) Stage(r io.Reader) (digest.Digest, int64, bool, error) {
	d, n, added, err := c.Cache.Stage(r)
	if added {
		c.added++
	}
	return d, n, added, err
}

// TestCompressedCorpusLeavesCacheEmpty: whatever a compressed case of the
// malicious corpus makes fail, nothing is left in the cache: an index built
// for it is not kept, and an extraction that fails after putting files
// removes them (corrupt-single-frame.tar.zst fails at the end of its frame).
func TestCompressedCorpusLeavesCacheEmpty(t *testing.T) {
	for _, c := range malicious.Cases() {
		if !strings.HasSuffix(c.Name, ".gz") && !strings.HasSuffix(c.Name, ".zst") {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			path, err := filepath.Abs(filepath.Join("../testdata/malicious", c.Name))
			if err != nil {
				t.Fatal(err)
			}
			cc, err := cache.Open(t.TempDir(), 0)
			if err != nil {
				t.Fatal(err)
			}
			counter := &putCounter{Cache: cc}
			if rep := archive.Verify(path, archive.Options{Cache: counter, TempDir: t.TempDir()}); len(rep.Problems) != 1 {
				t.Fatalf("problems %v, want one", rep.Problems)
			}
			if files := cacheFiles(t, cc.Dir()); len(files) != 0 {
				t.Errorf("the cache holds %v", slices.Sorted(maps.Keys(files)))
			}
			if c.Name == "corrupt-single-frame.tar.zst" && counter.added == 0 {
				t.Error("the extraction put nothing into the cache before it failed: nothing to undo")
			}
		})
	}
}

// fullCache is a cache whose Stage fails, as on a full disk, once it has
// read a little.
type fullCache struct{ *cache.Cache }

func (fullCache) Stage(r io.Reader) (digest.Digest, int64, bool, error) {
	io.CopyN(io.Discard, r, 1000)
	return "", 0, false, errors.New("no space left on device")
}

// gzipAndCache writes a gzip of two images and opens an empty cache.
func gzipAndCache(t *testing.T) (string, *cache.Cache) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.tar.gz")
	if err := os.WriteFile(path, gzipped(t, twoImageTar(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(filepath.Join(dir, "cache"), 0)
	if err != nil {
		t.Fatal(err)
	}
	return path, c
}

// TestGzipWindowsNotStaged: a cache that cannot take the windows of a
// foreign gzip's index does not fail the open: the pass is made again
// with the windows in memory, said so, and nothing is kept.
func TestGzipWindowsNotStaged(t *testing.T) {
	path, c := gzipAndCache(t)
	var notices []string
	readAll(t, path, archive.Options{Cache: fullCache{c}, Notice: func(m string) { notices = append(notices, m) }})
	if !slices.ContainsFunc(notices, func(m string) bool { return strings.Contains(m, "no space left on device") }) {
		t.Errorf("notices %q, want one saying why the windows are not kept", notices)
	}
	if files := cacheFiles(t, c.Dir()); len(files) != 0 {
		t.Errorf("the cache holds %v", slices.Sorted(maps.Keys(files)))
	}
}

// TestGzipWindowsEvictedWhileOpen: a Reader opened from a cached gzip
// index reads every blob after the windows it reads from are evicted.
func TestGzipWindowsEvictedWhileOpen(t *testing.T) {
	path, c := gzipAndCache(t)
	readAll(t, path, archive.Options{Cache: c})
	indexes, _ := filepath.Glob(filepath.Join(c.Dir(), "index", "*"))
	if len(indexes) != 1 {
		t.Fatalf("cache indexes: %v", indexes)
	}
	var notices []string
	r, err := archive.Open(path, archive.Options{Cache: c, Notice: func(m string) { notices = append(notices, m) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	removeWindows(t, indexes[0], path)
	for _, img := range r.Images() {
		for _, b := range img.Blobs {
			if err := drainBlob(r, b.Digest); err != nil {
				t.Errorf("blob %s: %v", b.Digest, err)
			}
		}
	}
	if len(notices) != 0 {
		t.Errorf("notices %q", notices)
	}
}

// drainBlob reads blob d of r to its end, where its digest is checked.
func drainBlob(r *archive.Reader, d digest.Digest) error {
	rc, _, err := r.OpenBlob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}
