//go:build !linux

package store

import (
	"fmt"
	"path/filepath"
	"sync"
)

// indexLocks serializes updates of index.json by the stores of a directory,
// and blobsLocks keeps Prune and writers of blobs apart, by absolute path;
// neither holds other processes off.
var indexLocks, blobsLocks sync.Map

// lockIndex waits for the lock of the store's directory; unlock releases it.
func (s *LayoutStore) lockIndex() (unlock func(), err error) {
	mu, err := s.lock(&indexLocks, func() any { return &sync.Mutex{} })
	if err != nil {
		return nil, err
	}
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock, nil
}

// lockBlobs takes the blobs lock of the store's directory: shared, waiting for
// a Prune to end; or exclusive, failing with ErrBusy at once if anyone
// holds it.
func (s *LayoutStore) lockBlobs(exclusive bool) (unlock func(), err error) {
	l, err := s.lock(&blobsLocks, func() any { return &sync.RWMutex{} })
	if err != nil {
		return nil, err
	}
	mu := l.(*sync.RWMutex)
	if !exclusive {
		mu.RLock()
		return mu.RUnlock, nil
	}
	if !mu.TryLock() {
		return nil, fmt.Errorf("store %s: %w", s.dir, ErrBusy)
	}
	return mu.Unlock, nil
}

// lock is the lock of the store's directory in locks, made by fresh if none is.
func (s *LayoutStore) lock(locks *sync.Map, fresh func() any) (any, error) {
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.dir, err)
	}
	mu, _ := locks.LoadOrStore(dir, fresh())
	return mu, nil
}
