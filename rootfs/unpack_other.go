//go:build !linux

package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/ocitar/ocitar/archive"
)

// mknod refuses fifos and devices, which only Linux builds create.
func mknod(_ *os.Root, _ string, hdr *tar.Header) error {
	return fmt.Errorf("%w: tar type %q is only unpacked on Linux", archive.ErrUnsupportedEntry, hdr.Typeflag)
}

// lchtimes leaves the times of symlinks as they are: only Linux builds set them.
func lchtimes(*os.Root, string, time.Time, time.Time) error { return nil }

// renameDir renames directory tmp to dir, removing dir first if it is an
// empty directory, which os.Rename does not replace: should the rename then
// fail, dir is gone. Linux builds replace it in one rename(2).
func renameDir(tmp, dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, dir)
}

// fileChtimes sets the times of f, open at name of root, by its name.
func fileChtimes(root *os.Root, name string, _ *os.File, atime, mtime time.Time) error {
	return root.Chtimes(name, atime, mtime)
}

// setXattrs leaves extended attributes unset: only Linux builds set them.
func setXattrs(*os.Root, string, string, []xattr, func(error)) error { return nil }
