package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// DefaultMax is the bound of a cache opened with max 0: 10 GiB.
const DefaultMax int64 = 10 << 30

// ErrCorrupt is what reading a cache file that is truncated or damaged
// wraps; the caller rebuilds what it held.
var ErrCorrupt = errors.New("corrupt cache file")

// The directories of a cache, and the file whose lock keeps evictions apart.
const (
	blobsDir  = "blobs/sha256"
	indexDir  = "index"
	locksDir  = "locks"
	tmpDir    = "tmp"
	evictLock = "evict.lock"
)

// touchAfter is how old a file's modification time must be before a read
// sets it again: LRU order to the minute, at a system call per file a minute.
const touchAfter = time.Minute

// staleAfter is the age past which Open takes a temporary file for one a
// crash left: a file being written is modified as it is written.
const staleAfter = time.Hour

// Cache is a cache directory. It is safe for concurrent use, by goroutines
// and by processes sharing the directory.
type Cache struct {
	dir string
	max int64 // bytes; negative for no bound

	fillsMu sync.Mutex
	fills   map[digest.Digest]*fillCall // the Fills under way, by digest
	checked sync.Map                    // digest -> os.FileInfo of the file that a Fill found to match it, or fetched and linked into place
}

// DefaultDir is ocitar in the user's cache directory ($XDG_CACHE_HOME/ocitar
// or ~/.cache/ocitar on Linux).
func DefaultDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	return filepath.Join(dir, "ocitar"), nil
}

// Open opens the cache in dir, creating its directories when missing, and
// bounds it to max bytes of blobs and index files: 0 is DefaultMax, a
// negative max no bound. It removes temporary files a crash left, and evicts
// what exceeds max, as when the bound was lowered.
func Open(dir string, max int64) (*Cache, error) {
	if max == 0 {
		max = DefaultMax
	}
	c := &Cache{dir: dir, max: max}
	for _, sub := range []string{blobsDir, indexDir, locksDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("cache %s: %w", dir, err)
		}
	}
	if err := c.removeStale(time.Now()); err != nil {
		return nil, err
	}
	if err := c.evict(0, ""); err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	return c, nil
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Max is the cache's bound in bytes, negative for none.
func (c *Cache) Max() int64 { return c.max }

// Size is the bytes the cache's blobs and index files hold.
func (c *Cache) Size() (int64, error) {
	files, err := c.files()
	if err != nil {
		return 0, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	return total, nil
}

// removeStale removes the temporary files last modified staleAfter before now.
func (c *Cache) removeStale(now time.Time) error {
	dir := filepath.Join(c.dir, tmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < staleAfter {
			continue // gone already, or still being written
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cache %s: removing a stale temporary file: %w", c.dir, err)
		}
	}
	return nil
}

// touch marks the file at path, last modified at mtime, as used now, unless it
// was within touchAfter. It is a hint: a file evicted meanwhile, or a cache
// that is read-only, keeps the order it has.
func touch(path string, mtime time.Time) {
	now := time.Now()
	if now.Sub(mtime) < touchAfter {
		return
	}
	_ = os.Chtimes(path, time.Time{}, now)
}
