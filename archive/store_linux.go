package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// indexLockFile is the file of a store whose flock serializes updates of index.json.
const indexLockFile = "index.json.lock"

// lockIndex waits for the exclusive flock of the store's lock file; unlock releases it.
func (s *LayoutStore) lockIndex() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, indexLockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store %s: locking %s: %w", s.dir, indexLockFile, err)
	}
	return func() { f.Close() }, nil
}
