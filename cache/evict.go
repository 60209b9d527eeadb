package cache

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// file is a blob or index file, as eviction sees it.
type file struct {
	path  string
	size  int64
	mtime time.Time
}

// files lists the cache's blobs and index files.
func (c *Cache) files() ([]file, error) {
	var files []file
	for _, sub := range []string{blobsDir, indexDir} {
		dir := filepath.Join(c.dir, sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue // removed since the listing, or not a cache file
			}
			files = append(files, file{filepath.Join(dir, e.Name()), info.Size(), info.ModTime()})
		}
	}
	return files, nil
}

// evict removes the files used least recently until room more bytes fit
// under the bound. The file at replacing, which the write replaces, neither
// counts nor is removed.
func (c *Cache) evict(room int64, replacing string) error {
	if c.max < 0 {
		return nil
	}
	unlock, err := lockFile(filepath.Join(c.dir, evictLock))
	if err != nil {
		return err
	}
	defer unlock()
	files, err := c.files()
	if err != nil {
		return err
	}
	var total int64
	files = slices.DeleteFunc(files, func(f file) bool { return f.path == replacing })
	for _, f := range files {
		total += f.size
	}
	slices.SortFunc(files, func(a, b file) int {
		return cmp.Or(a.mtime.Compare(b.mtime), cmp.Compare(a.path, b.path))
	})
	for _, f := range files {
		if total+room <= c.max {
			break
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("evicting: %w", err)
		}
		total -= f.size
	}
	return nil
}
