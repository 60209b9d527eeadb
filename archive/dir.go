package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// OpenDir opens an OCI image layout directory, as skopeo's oci: and umoci
// write, or a directory holding an extracted docker-save archive. It is read
// through os.Root, so no file or link leads outside it, and its files are
// listed once, when it is opened. The Reader it returns serves images,
// manifests and blobs as for an archive; Close releases it.
func OpenDir(path string, opts Options) (*Reader, error) {
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	list, err := listFiles(root.FS())
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("%s: listing files: %w", path, err)
	}
	r, err := newFilesReader(dirFiles{root: root, list: list}, path, opts)
	if err != nil {
		root.Close()
		return nil, err
	}
	r.closers = append(r.closers, root.Close)
	return r, nil
}

// dirFiles are the files of a directory, listed when it was opened.
type dirFiles struct {
	root *os.Root
	list []Entry
}

func (f dirFiles) entries() []Entry { return f.list }

// listFiles lists the regular files, directories and symlinks of fsys; other files are left out.
func listFiles(fsys fs.FS) ([]Entry, error) {
	var out []Entry
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return err
		}
		e, ok, err := describeFile(fsys, name, d)
		if ok {
			out = append(out, e)
		}
		return err
	})
	return out, err
}

// describeFile describes a regular file, directory or symlink; ok is false for other files.
func describeFile(fsys fs.FS, name string, d fs.DirEntry) (e Entry, ok bool, err error) {
	e = Entry{Name: name}
	switch {
	case d.Type().IsRegular():
		info, err := d.Info()
		if err != nil {
			return e, false, err
		}
		e.Type, e.Size = tar.TypeReg, info.Size()
	case d.IsDir():
		e.Type = tar.TypeDir
	case d.Type()&fs.ModeSymlink != 0:
		target, err := fs.ReadLink(fsys, name)
		if err != nil {
			return e, false, err
		}
		e.Type, e.Linkname = tar.TypeSymlink, target
	default:
		return e, false, nil
	}
	return e, true, nil
}

func (f dirFiles) has(name string) bool {
	_, err := f.root.Lstat(name)
	return err == nil
}

// open opens name without blocking, so that a fifo is refused rather than waited on.
func (f dirFiles) open(name string) (io.ReadCloser, int64, error) {
	file, err := f.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %q", ErrMissingEntry, name)
	}
	if err != nil && !errors.Is(err, fs.ErrPermission) {
		return nil, 0, fmt.Errorf("%w: %w", ErrBadLink, err) // a link that leaves the directory, or a loop
	}
	if err != nil {
		return nil, 0, err
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, err
	}
	if !info.Mode().IsRegular() {
		file.Close()
		return nil, 0, fmt.Errorf("%w: %q is not a regular file", ErrUnsupportedEntry, name)
	}
	return file, info.Size(), nil
}

func (f dirFiles) readFile(name string, limit int64) ([]byte, error) {
	rc, size, err := f.open(name)
	if err != nil {
		return nil, err
	}
	return readAllLimited(rc, name, size, limit)
}
