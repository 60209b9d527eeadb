package cache

import (
	"fmt"
	"path/filepath"
)

// Lock waits until no one else holds key, in this process or another sharing
// the directory, and takes it; unlock, called once, releases it. A process
// that exits releases what it holds. The lock keeps apart the holders of the
// key alone, such as the builders of the index stored under it: no reader or
// writer of the cache waits for it.
func (c *Cache) Lock(key string) (unlock func() error, err error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	unlock, err = lockFile(filepath.Join(c.dir, locksDir, key))
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	return unlock, nil
}
