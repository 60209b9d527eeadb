package cache

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// TestCachePutEvicts: before a Put adds a blob, the files used least recently
// go until the blob fits under the bound. The cache holds blobs a, b and c and
// the index i, 100 bytes each, used in the order a, b, i, c.
func TestCachePutEvicts(t *testing.T) {
	tests := []struct {
		name string
		max  int64
		read []string // used before the Put
		put  int      // bytes
		kept string   // of a, b, c and i
	}{
		{"the oldest goes first", 500, nil, 150, "bci"},
		{"as many as the blob needs", 500, nil, 300, "ci"},
		{"index files go in turn", 400, nil, 250, "c"},
		{"a blob read goes last", 500, []string{"a"}, 150, "aci"},
		{"an index read goes last", 400, []string{"i"}, 250, "i"},
		{"in the order of the reads", 400, []string{"i", "a"}, 200, "ai"},
		{"under the bound nothing goes", 550, nil, 150, "abci"},
		{"no bound", -1, nil, 5000, "abci"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			files := fourFiles(t, c)
			c, err := Open(c.Dir(), tt.max)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range tt.read {
				use(t, c, name, files[name])
			}
			d, _, added, err := c.Put(bytes.NewReader(testimage.Bytes(9, tt.put)), "")
			if err != nil || !added {
				t.Fatalf("Put: added %v, %v", added, err)
			}
			kept := ""
			for _, name := range "abci" {
				if exists(c, string(name), files[string(name)]) {
					kept += string(name)
				}
			}
			if kept != tt.kept || !c.Has(d) {
				t.Errorf("kept %q and the new blob %v; want %q and the new blob", kept, c.Has(d), tt.kept)
			}
			if size, err := c.Size(); err != nil || size != int64(100*len(kept)+tt.put) {
				t.Errorf("Size() = %d, %v; want %d", size, err, 100*len(kept)+tt.put)
			}
		})
	}
}

// fourFiles puts the blobs a, b, c and writes the index i, 100 bytes each,
// used in the order a, b, i, c; it returns the blobs' digests.
func fourFiles(t *testing.T, c *Cache) map[string]digest.Digest {
	t.Helper()
	files := map[string]digest.Digest{}
	for i, name := range []string{"a", "b", "c"} {
		content := bytes.Repeat([]byte(name), 100)
		d, _, _, err := c.Put(bytes.NewReader(content), "")
		if err != nil {
			t.Fatal(err)
		}
		files[name] = d
		age(t, c.blobPath(d), []time.Duration{4 * time.Hour, 3 * time.Hour, time.Hour}[i])
	}
	if err := c.WriteIndex("i", make([]byte, 100-indexHeader)); err != nil {
		t.Fatal(err)
	}
	age(t, c.indexPath("i"), 2*time.Hour)
	return files
}

// use reads the blob d, or the index i.
func use(t *testing.T, c *Cache, name string, d digest.Digest) {
	t.Helper()
	if name == "i" {
		if _, err := c.ReadIndex("i"); err != nil {
			t.Fatal(err)
		}
		return
	}
	readBlob(t, c, d)
}

// exists reports whether the cache holds the blob d, or the index i.
func exists(c *Cache, name string, d digest.Digest) bool {
	if name == "i" {
		_, err := c.ReadIndex("i")
		return err == nil
	}
	return c.Has(d)
}

// TestCachePutEvictsOpen: a blob evicted while open reads whole.
func TestCachePutEvictsOpen(t *testing.T) {
	c := newCache(t, 200)
	content := testimage.Bytes(1, 150)
	d, _, _, err := c.Put(bytes.NewReader(content), "")
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := c.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, _, err := c.Put(bytes.NewReader(testimage.Bytes(2, 100)), ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Open(d); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of the evicted blob: %v, want ErrNotExist", err)
	}
	if data, err := io.ReadAll(f); err != nil || !bytes.Equal(data, content) {
		t.Errorf("read %d bytes of the evicted blob, %v; want its %d", len(data), err, len(content))
	}
}

// TestCacheWriteIndexEvicts: an index written counts against the bound, the
// one it replaces does not.
func TestCacheWriteIndexEvicts(t *testing.T) {
	tests := []struct {
		name string
		key  string
		size int // of the index file
		kept string
	}{
		{"a new index", "j", 200, "ci"},
		{"replacing i", "i", 200, "bci"},
		{"replacing i by a smaller one", "i", 60, "abci"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			files := fourFiles(t, c)
			c, err := Open(c.Dir(), 400)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.WriteIndex(tt.key, make([]byte, tt.size-indexHeader)); err != nil {
				t.Fatal(err)
			}
			kept := ""
			for _, name := range "abc" {
				if c.Has(files[string(name)]) {
					kept += string(name)
				}
			}
			if _, err := c.ReadIndex("i"); err == nil {
				kept += "i"
			}
			if kept != tt.kept {
				t.Errorf("kept %q, want %q", kept, tt.kept)
			}
		})
	}
}
