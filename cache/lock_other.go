//go:build !unix || aix

package cache

import (
	"path/filepath"
	"sync"
)

// locks holds a mutex per lock file, by absolute path: without flock, a lock
// keeps apart the goroutines of this process only.
var locks sync.Map

// lockFile waits for the lock of the file at path.
func lockFile(path string) (unlock func() error, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	mu, _ := locks.LoadOrStore(abs, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	return func() error {
		mu.(*sync.Mutex).Unlock()
		return nil
	}, nil
}
