package cache

import (
	"bytes"
	_ "crypto/sha512" // so that the sha512 digest is well-formed, refused for its algorithm alone
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// putBlobs puts n blobs of size bytes and returns their digests.
func putBlobs(t *testing.T, c *Cache, n, size int) []digest.Digest {
	t.Helper()
	var list []digest.Digest
	for i := range n {
		got, _, added, err := c.Put(bytes.NewReader(testimage.Bytes(uint64(i), size)), "")
		if err != nil || !added {
			t.Fatalf("Put of blob %d: added %v, %v", i, added, err)
		}
		list = append(list, got)
	}
	return list
}

// readBlob reads the blob d from the cache.
func readBlob(t *testing.T, c *Cache, d digest.Digest) []byte {
	t.Helper()
	f, size, err := c.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil || int64(len(data)) != size {
		t.Fatalf("read %d bytes of the %d of %s: %v", len(data), size, d, err)
	}
	return data
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errSource = errors.New("source failed")

func TestCachePut(t *testing.T) {
	const max = 1000
	content := testimage.Bytes(1, 700)
	right := digest.FromBytes(content)
	tests := []struct {
		name string
		r    io.Reader
		want digest.Digest
		err  error  // the kind of the error, nil for none
		says string // in the error
	}{
		{"digest given", bytes.NewReader(content), right, nil, ""},
		{"digest computed", bytes.NewReader(content), "", nil, ""},
		{"empty", strings.NewReader(""), digest.FromString(""), nil, ""},
		{"as large as the bound", bytes.NewReader(testimage.Bytes(2, max)), "", nil, ""},
		{"another digest", bytes.NewReader(content), digest.FromString("other"), errkind.ErrDigestMismatch, right.String()},
		{"sha512", bytes.NewReader(content), digest.SHA512.FromBytes(content), errkind.ErrUnsupportedDigest, "sha512"},
		{"an unknown algorithm", bytes.NewReader(content), "md5:0123456789abcdef0123456789abcdef", errkind.ErrUnsupportedDigest, "md5"},
		{"malformed digest", bytes.NewReader(content), "sha256:../../x", fs.ErrInvalid, "sha256:../../x"},
		{"larger than the bound", bytes.NewReader(testimage.Bytes(2, max+1)), "", errkind.ErrTooLarge, "--cache-max"},
		{"larger than the bound, digest given", bytes.NewReader(testimage.Bytes(2, 3*max)), digest.FromBytes(testimage.Bytes(2, 3*max)), errkind.ErrTooLarge, "1000 bytes"},
		{"source fails", &failingReader{content[:300], errSource}, right, errSource, "source failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, max)
			got, size, added, err := c.Put(tt.r, tt.want)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.says) {
					t.Errorf("Put: %v; want an error wrapping %v saying %q", err, tt.err, tt.says)
				}
				if added || got != "" {
					t.Errorf("a failed Put returned %s, added %v", got, added)
				}
				if left := append(names(t, c, blobsDir), names(t, c, tmpDir)...); len(left) > 0 {
					t.Errorf("a failed Put left %q", left)
				}
				return
			}
			if err != nil || !added {
				t.Fatalf("Put: added %v, %v", added, err)
			}
			data := readBlob(t, c, got)
			if digest.FromBytes(data) != got || int64(len(data)) != size || tt.want != "" && got != tt.want {
				t.Errorf("Put returned %s, %d bytes; the cache holds %d bytes of %s", got, size, len(data), digest.FromBytes(data))
			}
			if left := names(t, c, tmpDir); len(left) > 0 {
				t.Errorf("Put left %q in tmp/", left)
			}
		})
	}
}

// TestCachePutHeld: a Put of a blob the cache holds adds nothing, and with
// its digest reads nothing.
func TestCachePutHeld(t *testing.T) {
	content := testimage.Bytes(1, 100)
	tests := []struct {
		name string
		r    io.Reader
		want digest.Digest
	}{
		{"digest given", &failingReader{nil, errors.New("read")}, digest.FromBytes(content)},
		{"digest computed", bytes.NewReader(content), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			putBlobs(t, c, 2, 100)
			got, size, added, err := c.Put(tt.r, tt.want)
			if err != nil || added || got != digest.FromBytes(content) || size != 100 {
				t.Errorf("Put = %s, %d, added %v, %v; want %s, 100, not added", got, size, added, err, digest.FromBytes(content))
			}
			if left := names(t, c, tmpDir); len(left) > 0 {
				t.Errorf("Put left %q in tmp/", left)
			}
		})
	}
}

// TestCacheStage stages a blob the cache lacks, holds, or holds short (as
// a crash before Sync can leave it): the cache ends with the whole blob,
// which Sync then makes durable.
func TestCacheStage(t *testing.T) {
	content := testimage.Bytes(1, 100)
	d := digest.FromBytes(content)
	tests := []struct {
		name      string
		held      []byte // the blob file before Stage, nil for none
		wantAdded bool
	}{
		{"absent", nil, true},
		{"held", content, false},
		{"held short", content[:40], true},
		{"held empty", []byte{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			if tt.held != nil {
				if err := os.WriteFile(c.blobPath(d), tt.held, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, size, added, err := c.Stage(bytes.NewReader(content))
			if err != nil || got != d || size != 100 || added != tt.wantAdded {
				t.Fatalf("Stage = %s, %d, added %v, %v; want %s, 100, added %v", got, size, added, err, d, tt.wantAdded)
			}
			if data := readBlob(t, c, d); !bytes.Equal(data, content) {
				t.Errorf("the cache holds %d bytes of %s, not its content", len(data), d)
			}
			if err := c.Sync([]digest.Digest{d}); err != nil {
				t.Errorf("Sync: %v", err)
			}
			if left := names(t, c, tmpDir); len(left) > 0 {
				t.Errorf("Stage left %q in tmp/", left)
			}
		})
	}
}

func TestCacheSyncMissing(t *testing.T) {
	c := newCache(t, -1)
	if err := c.Sync([]digest.Digest{digest.FromString("absent")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Sync of a blob the cache lacks: %v, want %v", err, fs.ErrNotExist)
	}
}

// TestCachePutConcurrent: of many Puts of one blob at once, one adds it.
func TestCachePutConcurrent(t *testing.T) {
	c := newCache(t, -1)
	content := testimage.Bytes(3, 3<<20)
	want := digest.FromBytes(content)
	const n = 16
	var wg sync.WaitGroup
	results := make([]error, n)
	added := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			d := want
			if i%2 == 0 {
				d = ""
			}
			got, size, a, err := c.Put(bytes.NewReader(content), d)
			if err == nil && (got != want || size != int64(len(content))) {
				err = fmt.Errorf("Put returned %s, %d bytes", got, size)
			}
			results[i], added[i] = err, a
		})
	}
	wg.Wait()
	count := 0
	for i := range n {
		if results[i] != nil {
			t.Errorf("Put %d: %v", i, results[i])
		}
		if added[i] {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d Puts added the blob, want 1", count)
	}
	if !bytes.Equal(readBlob(t, c, want), content) {
		t.Error("the cache holds other bytes")
	}
	if left := names(t, c, tmpDir); len(left) > 0 {
		t.Errorf("Puts left %q in tmp/", left)
	}
}

func TestCacheOpen(t *testing.T) {
	c := newCache(t, -1)
	held := putBlobs(t, c, 1, 10)[0]
	tests := []struct {
		name string
		d    digest.Digest
		err  error
	}{
		{"held", held, nil},
		{"absent", digest.FromString("absent"), fs.ErrNotExist},
		{"malformed", "sha256:../index/k", fs.ErrInvalid},
		{"sha512", digest.SHA512.FromString("x"), errkind.ErrUnsupportedDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, size, err := c.Open(tt.d)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Open: %v, want %v", err, tt.err)
			}
			if err == nil {
				f.Close()
				if size != 10 {
					t.Errorf("size %d, want 10", size)
				}
			}
			if has := c.Has(tt.d); has != (tt.err == nil) {
				t.Errorf("Has = %v", has)
			}
		})
	}
}

// TestCacheRemove: Remove takes the blob away, which those who have it open
// still read; removing what the cache lacks is no error.
func TestCacheRemove(t *testing.T) {
	c := newCache(t, -1)
	d := putBlobs(t, c, 1, 100)[0]
	f, _, err := c.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 2 {
		if err := c.Remove(d); err != nil {
			t.Errorf("Remove %d: %v", i, err)
		}
	}
	if c.Has(d) {
		t.Error("Has after Remove")
	}
	if data, err := io.ReadAll(f); err != nil || digest.FromBytes(data) != d {
		t.Errorf("reading the open blob after Remove: %d bytes, %v", len(data), err)
	}
	if err := c.Remove("sha256:.."); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Remove of a malformed digest: %v, want %v", err, fs.ErrInvalid)
	}
}

// TestCacheOpenTouches: Open, ReadIndex and a Put of a blob held mark a file
// as used when it was last used more than a minute ago.
func TestCacheOpenTouches(t *testing.T) {
	blob := testimage.Bytes(4, 100)
	open := func(c *Cache) error {
		f, _, err := c.Open(digest.FromBytes(blob))
		if err == nil {
			f.Close()
		}
		return err
	}
	put := func(c *Cache) error {
		_, _, _, err := c.Put(bytes.NewReader(blob), digest.FromBytes(blob))
		return err
	}
	readIndex := func(c *Cache) error {
		_, err := c.ReadIndex("k")
		return err
	}
	tests := []struct {
		name    string
		use     func(*Cache) error
		index   bool // the file used is the index k, else the blob
		age     time.Duration
		touched bool
	}{
		{"Open, two hours", open, false, 2 * time.Hour, true},
		{"Open, 30 s", open, false, 30 * time.Second, false},
		{"Put, two hours", put, false, 2 * time.Hour, true},
		{"Put, 30 s", put, false, 30 * time.Second, false},
		{"ReadIndex, two hours", readIndex, true, 2 * time.Hour, true},
		{"ReadIndex, 30 s", readIndex, true, 30 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			if _, _, _, err := c.Put(bytes.NewReader(blob), ""); err != nil {
				t.Fatal(err)
			}
			if err := c.WriteIndex("k", []byte("index")); err != nil {
				t.Fatal(err)
			}
			path := c.blobPath(digest.FromBytes(blob))
			if tt.index {
				path = c.indexPath("k")
			}
			age(t, path, tt.age)
			before := modTime(t, path)
			start := time.Now()
			if err := tt.use(c); err != nil {
				t.Fatal(err)
			}
			after := modTime(t, path)
			if tt.touched && after.Before(start.Add(-time.Second)) {
				t.Errorf("modified %v, before the use at %v", after, start)
			}
			if !tt.touched && !after.Equal(before) {
				t.Errorf("modified %v, was %v: want it untouched", after, before)
			}
		})
	}
}

func modTime(t *testing.T, path string) time.Time {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.ModTime()
}
