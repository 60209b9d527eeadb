package cache

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/internal/testimage"
)

func TestCacheIndex(t *testing.T) {
	tests := []struct {
		name   string
		writes [][]byte // in turn, under one key
	}{
		{"empty", [][]byte{{}}},
		{"small", [][]byte{[]byte("index")}},
		{"large", [][]byte{testimage.Bytes(1, 3<<20)}},
		{"replaced", [][]byte{[]byte("old index"), []byte("new")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			for _, index := range tt.writes {
				if err := c.WriteIndex("k", index); err != nil {
					t.Fatal(err)
				}
			}
			got, err := c.ReadIndex("k")
			if want := tt.writes[len(tt.writes)-1]; err != nil || !bytes.Equal(got, want) {
				t.Errorf("ReadIndex: %d bytes, %v; want the %d written", len(got), err, len(want))
			}
			if left := names(t, c, tmpDir); len(left) > 0 {
				t.Errorf("WriteIndex left %q in tmp/", left)
			}
			for i := range 2 {
				if err := c.RemoveIndex("k"); err != nil {
					t.Errorf("RemoveIndex %d: %v", i, err)
				}
			}
			if _, err := c.ReadIndex("k"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ReadIndex after RemoveIndex: %v, want ErrNotExist", err)
			}
		})
	}
}

// TestCacheReadIndexCorrupt: an index file damaged in any part is refused
// with ErrCorrupt, and WriteIndex repairs it.
func TestCacheReadIndexCorrupt(t *testing.T) {
	index := []byte("the checkpoints of an archive")
	tests := []struct {
		name   string
		damage func([]byte) []byte
		says   string
	}{
		{"empty", func(b []byte) []byte { return nil }, "shorter than the header"},
		{"truncated header", func(b []byte) []byte { return b[:indexHeader-1] }, "shorter than the header"},
		{"truncated index", func(b []byte) []byte { return b[:len(b)-1] }, "the header says 29 bytes, the file holds 28"},
		{"header alone", func(b []byte) []byte { return b[:indexHeader] }, "the header says 29 bytes, the file holds 0"},
		{"bytes appended", func(b []byte) []byte { return append(b, 0) }, "the file holds 30"},
		{"magic", flip(0), "not an ocitar index file"},
		{"length", flip(len(indexMagic) + 7), "the header says"},
		{"checksum", flip(indexHeader - 1), "checksum mismatch"},
		{"index", flip(indexHeader + 3), "checksum mismatch"},
		{"index and length", func(b []byte) []byte { b = b[:len(b)-1]; b[len(indexMagic)+7]--; return b }, "checksum mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			if err := c.WriteIndex("k", index); err != nil {
				t.Fatal(err)
			}
			path := c.indexPath("k")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(data), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ReadIndex("k"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("ReadIndex: %v; want an error wrapping %v saying %q", err, ErrCorrupt, tt.says)
			}
			if err := c.WriteIndex("k", index); err != nil {
				t.Fatal(err)
			}
			if got, err := c.ReadIndex("k"); err != nil || !bytes.Equal(got, index) {
				t.Errorf("ReadIndex after WriteIndex: %q, %v; want %q", got, err, index)
			}
		})
	}
}

// flip returns a damage that flips the bits of the byte at i.
func flip(i int) func([]byte) []byte {
	return func(b []byte) []byte {
		b[i] ^= 0xff
		return b
	}
}

// TestCacheKeys: a key is a file name of [0-9a-z-], never a path; every
// method that takes one refuses others and touches no file.
func TestCacheKeys(t *testing.T) {
	calls := map[string]func(*Cache, string) error{
		"ReadIndex":   func(c *Cache, key string) error { _, err := c.ReadIndex(key); return err },
		"WriteIndex":  func(c *Cache, key string) error { return c.WriteIndex(key, []byte("x")) },
		"RemoveIndex": func(c *Cache, key string) error { return c.RemoveIndex(key) },
		"Lock": func(c *Cache, key string) error {
			unlock, err := c.Lock(key)
			if err == nil {
				err = unlock()
			}
			return err
		},
	}
	tests := []struct {
		key string
		ok  bool
	}{
		{"0", true},
		{"sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-gzip", true},
		{"-", true},
		{strings.Repeat("a", maxKey), true},
		{"", false},
		{".", false},
		{"..", false},
		{"../escape", false},
		{"a/b", false},
		{"/etc/passwd", false},
		{"Upper", false},
		{"a.b", false},
		{"a_b", false},
		{"a b", false},
		{"é", false},
		{"a\x00", false},
		{strings.Repeat("a", maxKey+1), false},
	}
	for _, tt := range tests {
		for name, call := range calls {
			t.Run(name+"/"+tt.key[:min(len(tt.key), 20)], func(t *testing.T) {
				root := t.TempDir()
				c, err := Open(filepath.Join(root, "cache"), -1)
				if err != nil {
					t.Fatal(err)
				}
				err = call(c, tt.key)
				if tt.ok && err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s(%q): %v", name, tt.key, err)
				}
				if !tt.ok {
					if !errors.Is(err, fs.ErrInvalid) {
						t.Errorf("%s(%q): %v, want %v", name, tt.key, err, fs.ErrInvalid)
					}
					if left := slices.Concat(names(t, c, indexDir), names(t, c, locksDir), names(t, c, tmpDir)); len(left) > 0 {
						t.Errorf("%s(%q) left %q", name, tt.key, left)
					}
				}
				if entries, err := os.ReadDir(root); err != nil || len(entries) != 1 {
					t.Errorf("beside the cache: %v, %v; want nothing", entries, err)
				}
			})
		}
	}
}

// TestCacheWriteIndexTooLarge: an index file larger than the bound is
// refused, and leaves nothing.
func TestCacheWriteIndexTooLarge(t *testing.T) {
	tests := []struct {
		size int // of the index file
		err  error
	}{
		{100, nil},
		{101, errkind.ErrTooLarge},
	}
	for _, tt := range tests {
		c := newCache(t, 100)
		err := c.WriteIndex("k", make([]byte, tt.size-indexHeader))
		if !errors.Is(err, tt.err) || tt.err != nil && !strings.Contains(err.Error(), "--cache-max") {
			t.Errorf("WriteIndex of %d bytes: %v, want %v", tt.size, err, tt.err)
		}
		if got, want := len(names(t, c, indexDir)), map[bool]int{true: 1, false: 0}[tt.err == nil]; got != want {
			t.Errorf("WriteIndex of %d bytes: %d index files, want %d", tt.size, got, want)
		}
		if left := names(t, c, tmpDir); len(left) > 0 {
			t.Errorf("WriteIndex left %q in tmp/", left)
		}
	}
}

// FuzzReadIndex: whatever an index file holds, ReadIndex returns the index it
// holds whole, which WriteIndex would write as the same bytes, or refuses it
// with ErrCorrupt.
func FuzzReadIndex(f *testing.F) {
	for _, index := range []string{"", "x", "the checkpoints of an archive"} {
		f.Add(append(header([]byte(index)), index...))
	}
	f.Add([]byte(indexMagic))
	f.Add(append(header([]byte("abc")), "ab"...))
	c, err := Open(f.TempDir(), -1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(c.indexPath("k"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		index, err := c.ReadIndex("k")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadIndex: %v, not ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(append(header(index), index...), data) {
			t.Fatalf("ReadIndex returned %d bytes that WriteIndex would not write as the %d read", len(index), len(data))
		}
	})
}
