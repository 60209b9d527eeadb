package pending

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File is a new file written beside its final path and renamed onto it
// by Commit: readers of the path see the old file or the whole new one, never
// a part. Abort, or a crash before Commit, leaves the old file untouched.
type File struct {
	*os.File
	path    string
	done    bool
	unflush int64 // bytes written since writeback was last started
}

// writebackEvery is how many bytes a File takes before it asks the
// kernel to start writing them to disk, so that the disk works while the
// writer does and Commit's fsync finds little left to do.
const writebackEvery = 8 << 20

// Write writes p and, every writebackEvery bytes, starts the write-back of
// what the file holds without waiting for it.
func (p *File) Write(b []byte) (int, error) {
	n, err := p.File.Write(b)
	p.unflush += int64(n)
	if p.unflush >= writebackEvery {
		p.unflush = 0
		startWriteback(p.File)
	}
	return n, err
}

// Mark follows the name of the final path in the name of a File,
// which starts with a dot: ".NAME.ocitar-RANDOM".
const Mark = ".ocitar-"

// Create starts writing the file that Commit will move to path.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+Mark+"*")
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	return &File{File: f, path: path}, nil
}

// RemoveLeftovers removes the Files of path that a crash left, and returns
// their names.
func RemoveLeftovers(path string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(filepath.Dir(path), "."+globEscape(filepath.Base(path))+Mark+"*"))
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := os.Remove(name); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	return names, nil
}

// globEscape quotes the characters filepath.Match gives a meaning.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

// Commit flushes the file to disk and renames it to its final path.
func (p *File) Commit() error {
	if err := p.Sync(); err != nil {
		p.Abort()
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	if err := p.File.Close(); err != nil {
		p.Abort()
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	if err := os.Rename(p.Name(), p.path); err != nil {
		p.Abort()
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	p.done = true
	return SyncDir(filepath.Dir(p.path))
}

// CommitAs is Commit to path, a path in the same directory decided once the content is known.
func (p *File) CommitAs(path string) error {
	p.path = path
	return p.Commit()
}

// Abort removes the file unless it was committed. It is safe to call more than once.
func (p *File) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	p.File.Close()
	if err := os.Remove(p.Name()); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
