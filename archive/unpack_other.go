//go:build !linux

package archive

import (
	"archive/tar"
	"fmt"
	"os"
	"time"
)

// mknod refuses fifos and devices, which only Linux builds create.
func mknod(_ *os.Root, _ string, hdr *tar.Header) error {
	return fmt.Errorf("%w: tar type %q is only unpacked on Linux", ErrUnsupportedEntry, hdr.Typeflag)
}

// lchtimes leaves the times of symlinks as they are: only Linux builds set them.
func lchtimes(*os.Root, string, time.Time, time.Time) error { return nil }
