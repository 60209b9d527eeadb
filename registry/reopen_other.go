//go:build !linux

package registry

import (
	"errors"
	"os"
)

// reopen is not available here: blobs are copied through user space.
func reopen(*os.File) (*os.File, error) {
	return nil, errors.New("reopening an open file is supported on Linux only")
}
