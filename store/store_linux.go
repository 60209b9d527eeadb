package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// The files of a store whose flocks serialize updates of index.json, and keep
// Prune and writers of blobs apart.
const (
	indexLockFile = "index.json.lock"
	blobsLockFile = "blobs.lock"
)

// lockIndex waits for the exclusive flock of the store's index lock file;
// unlock releases it.
func (s *LayoutStore) lockIndex() (unlock func(), err error) {
	return s.flock(indexLockFile, syscall.LOCK_EX)
}

// lockBlobs takes the flock of the store's blobs lock file: shared, waiting
// for a Prune to end; or exclusive, failing with ErrBusy at once if
// anyone holds it.
func (s *LayoutStore) lockBlobs(exclusive bool) (unlock func(), err error) {
	if exclusive {
		return s.flock(blobsLockFile, syscall.LOCK_EX|syscall.LOCK_NB)
	}
	return s.flock(blobsLockFile, syscall.LOCK_SH)
}

// flock takes the flock how of the store's file name.
func (s *LayoutStore) flock(name string, how int) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, fmt.Errorf("store %s: %w", s.dir, ErrBusy)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store %s: locking %s: %w", s.dir, name, err)
	}
	return func() { f.Close() }, nil
}
