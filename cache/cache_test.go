package cache

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// newCache opens a cache of bound max in a new directory.
func newCache(t *testing.T, max int64) *Cache {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "cache"), max)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// names lists the files in the cache's directory sub.
func names(t *testing.T, c *Cache, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(c.Dir(), sub))
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, e := range entries {
		list = append(list, e.Name())
	}
	return list
}

// age sets the modification time of the file at path to age before now.
func age(t *testing.T, path string, age time.Duration) {
	t.Helper()
	if err := os.Chtimes(path, time.Time{}, time.Now().Add(-age)); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/var/cache/someone")
	got, err := DefaultDir()
	if err != nil || got != "/var/cache/someone/ocitar" {
		t.Errorf("DefaultDir() = %q, %v; want /var/cache/someone/ocitar", got, err)
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name     string
		max, got int64
	}{
		{"0 is the default bound", 0, DefaultMax},
		{"a negative bound is none", -1, -1},
		{"a bound", 4096, 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, tt.max)
			if c.Max() != tt.got {
				t.Errorf("Max() = %d, want %d", c.Max(), tt.got)
			}
			for _, sub := range []string{blobsDir, indexDir, locksDir, tmpDir} {
				if info, err := os.Stat(filepath.Join(c.Dir(), sub)); err != nil || !info.IsDir() {
					t.Errorf("%s: %v, want a directory", sub, err)
				}
			}
		})
	}
}

// TestOpenRemovesStale: Open removes the temporary files a crash left, an
// hour old, and keeps those of writes that may be under way.
func TestOpenRemovesStale(t *testing.T) {
	c := newCache(t, -1)
	for name, a := range map[string]time.Duration{".blob.ocitar-1": 2 * time.Hour, ".blob.ocitar-2": 0, ".k.ocitar-3": 59 * time.Minute} {
		path := filepath.Join(c.Dir(), tmpDir, name)
		if err := os.WriteFile(path, []byte("part"), 0o644); err != nil {
			t.Fatal(err)
		}
		age(t, path, a)
	}
	if _, err := Open(c.Dir(), -1); err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, c, tmpDir), []string{".blob.ocitar-2", ".k.ocitar-3"}; !slices.Equal(got, want) {
		t.Errorf("tmp/ holds %q, want %q", got, want)
	}
}

// TestOpenEvicts: a cache opened with a bound lower than what it holds
// evicts what was used least recently.
func TestOpenEvicts(t *testing.T) {
	c := newCache(t, -1)
	blobs := putBlobs(t, c, 3, 100)
	for i, d := range blobs {
		age(t, c.blobPath(d), time.Duration(3-i)*time.Hour)
	}
	c, err := Open(c.Dir(), 250)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range blobs {
		if got, want := c.Has(d), i > 0; got != want {
			t.Errorf("blob %d, used %d hours ago: Has = %v, want %v", i, 3-i, got, want)
		}
	}
	if size, err := c.Size(); size != 200 || err != nil {
		t.Errorf("Size() = %d, %v; want 200", size, err)
	}
}

// TestCacheSize counts blobs and index files with their headers, and neither
// lock nor temporary files.
func TestCacheSize(t *testing.T) {
	c := newCache(t, -1)
	putBlobs(t, c, 2, 1000)
	if err := c.WriteIndex("k", make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	unlock, err := c.Lock("k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := os.WriteFile(filepath.Join(c.Dir(), tmpDir, "part"), make([]byte, 500), 0o644); err != nil {
		t.Fatal(err)
	}
	if size, err := c.Size(); size != 2000+int64(indexHeader)+10 || err != nil {
		t.Errorf("Size() = %d, %v; want %d", size, err, 2000+indexHeader+10)
	}
}
