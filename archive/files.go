package archive

import (
	"context"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/source"
)

// layoutFiles are the files a Reader reads an image layout from: the entries
// of a tar, the files of a directory, or those of a stream being loaded.
type layoutFiles interface {
	// entries lists every file in a stable order.
	entries() []Entry
	// has reports whether name exists, as a file, directory or link.
	has(name string) bool
	// open returns the content of the regular file name, links followed, and
	// its size, for a reader that verifies it.
	open(name string) (io.ReadCloser, int64, error)
	// readFile reads a whole file that nothing verifies, refusing more than limit bytes.
	readFile(name string, limit int64) ([]byte, error)
}

// indexedNames are the names of a tar's entries, whose content is elsewhere.
type indexedNames struct {
	idx *tarIndex
}

func (f indexedNames) entries() []Entry {
	out := make([]Entry, 0, len(f.idx.order))
	for _, n := range f.idx.order {
		out = append(out, *f.idx.entries[n])
	}
	return out
}

func (f indexedNames) has(name string) bool {
	_, ok := f.idx.entries[name]
	return ok
}

// resolveUnique resolves name to a regular file of which the tar holds one
// copy, as a file read unverified must be: tools would read different copies.
func (f indexedNames) resolveUnique(name string, limit int64) (*Entry, error) {
	e, err := f.idx.resolve(name, true)
	if err != nil {
		return nil, err
	}
	if e.Size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, name, e.Size, limit)
	}
	return e, nil
}

// tarFiles are the entries of an compression.Uncompressed tar held by an io.ReaderAt.
type tarFiles struct {
	indexedNames
	ra io.ReaderAt
}

// streamFrom is the size from which an entry of a source.Streamer is read
// as one stream: a smaller one is likely in a window its ReadAt keeps
// (source/remote's, 64 KiB), or takes one of its own.
const streamFrom = 64 << 10

// open reads a large entry as one stream of ra when ra is a
// source.Streamer (one request of a remote archive), else through ReadAt.
func (f tarFiles) open(name string) (io.ReadCloser, int64, error) {
	e, err := f.idx.resolve(name, false)
	if err != nil {
		return nil, 0, err
	}
	if s, ok := f.ra.(source.Streamer); ok && e.Size >= streamFrom {
		rc, err := s.OpenRange(context.Background(), e.Offset, e.Size)
		return rc, e.Size, err
	}
	return io.NopCloser(io.NewSectionReader(f.ra, e.Offset, e.Size)), e.Size, nil
}

func (f tarFiles) readFile(name string, limit int64) ([]byte, error) {
	e, err := f.resolveUnique(name, limit)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, e.Size)
	if _, err := f.ra.ReadAt(buf, e.Offset); err != nil && !(err == io.EOF && len(buf) == 0) {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return buf, nil
}

// section returns the stored bytes of an entry, links followed.
func (f tarFiles) section(name string) (*io.SectionReader, error) {
	e, err := f.idx.resolve(name, false)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f.ra, e.Offset, e.Size), nil
}

// stackedCloser closes the stream read through, then what it reads from.
type stackedCloser struct {
	io.ReadCloser
	under io.Closer
}

func (s stackedCloser) Close() error {
	err := s.ReadCloser.Close()
	if uerr := s.under.Close(); err == nil {
		err = uerr
	}
	return err
}

// readAllLimited reads the size bytes of a file, refusing more than limit bytes.
func readAllLimited(rc io.ReadCloser, name string, size, limit int64) ([]byte, error) {
	defer rc.Close()
	if size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, name, size, limit)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return buf, nil
}
