//go:build !linux

package archive

import (
	"fmt"
	"path/filepath"
	"sync"
)

// indexLocks serializes updates of index.json by the stores of a directory,
// by absolute path; it does not hold other processes off.
var indexLocks sync.Map

// lockIndex waits for the lock of the store's directory; unlock releases it.
func (s *LayoutStore) lockIndex() (unlock func(), err error) {
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.dir, err)
	}
	mu, _ := indexLocks.LoadOrStore(dir, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock, nil
}
