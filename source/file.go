package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"time"
)

// sampleSize is how much of the head and of the tail of a file its identity hashes.
const sampleSize = 1 << 20

// File is a Source over a local file.
type File struct {
	*os.File
	name     string
	size     int64
	identity func() string
}

// OpenFile opens the regular file at path.
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	src, err := NewFile(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// NewFile makes a Source of the open regular file f, named name in errors.
func NewFile(f *os.File, name string) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	return &File{File: f, name: name, size: st.Size(), identity: sync.OnceValue(func() string { return fileIdentity(f, st) })}, nil
}

func (f *File) Size() int64  { return f.size }
func (f *File) Name() string { return f.name }

// Identity is computed on first use: a plain tar, which needs none, is
// never read for it.
func (f *File) Identity() string { return f.identity() }

// fileIdentity hashes what tells one version of a file from another without
// reading it whole: its size, modification time, device and inode, and its
// first and last MiB, so that a file rewritten in place within the
// resolution of its mtime is told apart too. A file that cannot be read for
// it gets an identity of its own that nothing else will have, so nothing
// kept for another is used for it.
func fileIdentity(f *os.File, st os.FileInfo) string {
	h := sha256.New()
	fmt.Fprintf(h, "file\x00%d\x00%d\x00", st.Size(), st.ModTime().UnixNano())
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fmt.Fprintf(h, "%d\x00%d\x00", sys.Dev, sys.Ino)
	}
	head := min(sampleSize, st.Size())
	tail := min(sampleSize, st.Size()-head)
	for _, part := range []*io.SectionReader{
		io.NewSectionReader(f, 0, head),
		io.NewSectionReader(f, st.Size()-tail, tail),
	} {
		if _, err := io.Copy(h, part); err != nil {
			fmt.Fprintf(h, "unreadable\x00%d\x00%d", time.Now().UnixNano(), rand.Uint64())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
