package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// OpenDir opens an OCI image layout directory, as skopeo's oci: and umoci
// write, or a directory holding an extracted docker-save archive. It is read
// through os.Root, so no file or link leads outside it. The Reader it returns
// serves images, manifests and blobs as for an archive; Close releases it.
func OpenDir(path string, opts Options) (*Reader, error) {
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r, err := newFilesReader(dirFiles{root: root}, path, opts)
	if err != nil {
		root.Close()
		return nil, err
	}
	r.closers = append(r.closers, root.Close)
	return r, nil
}

// dirFiles are the files of a directory.
type dirFiles struct {
	root *os.Root
}

func (f dirFiles) entries() []Entry {
	var out []Entry
	fs.WalkDir(f.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return nil
		}
		if e, ok := f.entry(name, d); ok {
			out = append(out, e)
		}
		return nil
	})
	return out
}

// entry describes a regular file, directory or symlink; other files are left out.
func (f dirFiles) entry(name string, d fs.DirEntry) (Entry, bool) {
	e := Entry{Name: name}
	switch {
	case d.Type().IsRegular():
		info, err := d.Info()
		if err != nil {
			return e, false
		}
		e.Type, e.Size = tar.TypeReg, info.Size()
	case d.IsDir():
		e.Type = tar.TypeDir
	case d.Type()&fs.ModeSymlink != 0:
		target, err := f.root.Readlink(name)
		if err != nil {
			return e, false
		}
		e.Type, e.Linkname = tar.TypeSymlink, target
	default:
		return e, false
	}
	return e, true
}

func (f dirFiles) has(name string) bool {
	_, err := f.root.Lstat(name)
	return err == nil
}

func (f dirFiles) open(name string) (io.ReadCloser, int64, error) {
	file, err := f.root.Open(name)
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
