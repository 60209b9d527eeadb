package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ocitar/ocitar/internal/tarname"
)

// maxLinkDepth bounds how many links are followed to resolve one name.
const maxLinkDepth = 16

// Entry is one file of the tar, located by its data offset.
type Entry struct {
	Name     string // cleaned, relative, without "./"
	Type     byte   // tar.TypeReg, tar.TypeSymlink, tar.TypeLink, tar.TypeDir or another tar type
	Offset   int64  // where the data starts; meaningful for tar.TypeReg
	Size     int64  // data size; meaningful for tar.TypeReg
	Linkname string // link target as stored in the header
}

// tarIndex maps every entry name of a tar to its location.
type tarIndex struct {
	entries    map[string]*Entry
	order      []string        // names in the order they first appear
	duplicates map[string]bool // names of more than one entry that is not a directory
}

// countingReader is an io.ReadSeeker over an io.ReaderAt that counts the bytes it reads.
// archive/tar skips entry data by seeking when its reader can seek, so the index is
// built from the headers alone.
type countingReader struct {
	*io.SectionReader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.SectionReader.Read(p)
	c.n += int64(n)
	return n, err
}

// indexTar reads the tar headers of ra once and returns the index and the number of
// bytes read from ra. A bad entry stops it, unless opts reports it and goes on.
func indexTar(ra io.ReaderAt, size int64, opts Options) (*tarIndex, int64, error) {
	cr := &countingReader{SectionReader: io.NewSectionReader(ra, 0, size)}
	tr := tar.NewReader(cr)
	idx := &tarIndex{entries: map[string]*Entry{}, duplicates: map[string]bool{}}
	var end int64 // where the last entry's data blocks end
	for count := 1; ; count++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, cr.n, fmt.Errorf("%w: %w", ErrNotArchive, err)
		}
		if count > opts.maxEntries() {
			return nil, cr.n, fmt.Errorf("%w: more than %d tar entries (limit: Options.MaxEntries)", ErrTooLarge, opts.maxEntries())
		}
		offset, err := cr.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, cr.n, err
		}
		if physicalSize(hdr) > size-offset {
			return nil, cr.n, fmt.Errorf("%w: truncated: entry %q declares %d bytes, %d remain in the file", ErrNotArchive, hdr.Name, physicalSize(hdr), size-offset)
		}
		end = offset + blocks(physicalSize(hdr))
		// An ambiguous index.json or manifest.json leaves nothing to verify.
		if err := idx.addHeader(hdr, offset); err != nil && (errors.Is(err, ErrAmbiguousEntry) || !opts.report(err)) {
			return nil, cr.n, err
		}
	}
	if size == 0 {
		return nil, cr.n, fmt.Errorf("%w: empty file", ErrNotArchive)
	}
	// archive/tar takes a clean EOF after any entry for the end of the archive;
	// only the end-of-archive block tells that nothing was cut off.
	if pos, _ := cr.Seek(0, io.SeekCurrent); pos < end+blockSize {
		return nil, cr.n, fmt.Errorf("%w: truncated: no end-of-archive block after byte %d", ErrNotArchive, end)
	}
	return idx, cr.n, nil
}

const blockSize = 512

// blocks rounds n up to whole tar blocks.
func blocks(n int64) int64 {
	return (n + blockSize - 1) / blockSize * blockSize
}

// physicalSize is how many data bytes follow the header in the archive.
func physicalSize(hdr *tar.Header) int64 {
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return 0
	}
	return max(hdr.Size, 0)
}

// addHeader indexes the entry of one header, if it carries anything to index.
func (idx *tarIndex) addHeader(hdr *tar.Header, offset int64) error {
	e, err := newEntry(hdr, offset)
	if err != nil || e == nil {
		return err
	}
	return idx.add(e)
}

// newEntry checks one header; it returns nil for entries that carry nothing to index.
func newEntry(hdr *tar.Header, offset int64) (*Entry, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil, nil // PAX records for what follows; GNU tar names it /tmp/GlobalHead.N
	}
	name, err := tarname.Clean(hdr.Name)
	if err != nil {
		return nil, err
	}
	if isSparse(hdr) {
		return nil, fmt.Errorf("%w: entry %q is a sparse file", ErrUnsupportedEntry, hdr.Name)
	}
	if name == "." {
		return nil, nil
	}
	e := &Entry{Name: name, Type: hdr.Typeflag, Linkname: hdr.Linkname}
	if hdr.Typeflag == tar.TypeReg {
		if hdr.Size < 0 {
			return nil, fmt.Errorf("%w: entry %q has a negative size", ErrNotArchive, hdr.Name)
		}
		e.Offset, e.Size = offset, hdr.Size
	}
	return e, nil
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// add records e under its cleaned name; a later entry of the same name
// replaces an earlier one, as when the tar is extracted. That is safe only for
// what is read verified against a digest (blobs, docker-save layers): the
// files that describe the archive are refused here, and readFile refuses every
// other duplicate it reads unverified (docker-save configs), as different tools
// would read different copies.
func (idx *tarIndex) add(e *Entry) error {
	if old, ok := idx.entries[e.Name]; ok {
		if old.Type != tar.TypeDir && e.Type != tar.TypeDir {
			idx.duplicates[e.Name] = true
		}
		if isMetadataName(e.Name) && idx.duplicates[e.Name] {
			return fmt.Errorf("%w: %q appears twice", ErrAmbiguousEntry, e.Name)
		}
	} else {
		idx.order = append(idx.order, e.Name)
	}
	idx.entries[e.Name] = e
	return nil
}

func isMetadataName(name string) bool {
	switch name {
	case ociLayoutFile, indexFile, dockerManifestFile, repositoriesFile:
		return true
	}
	return false
}

// resolve follows symlinks and hardlinks from name to a regular file of the
// archive. With unique, a name along the way that two entries hold is
// refused, as tools that take different copies would read different files.
func (idx *tarIndex) resolve(name string, unique bool) (*Entry, error) {
	cur := name
	for depth := 0; depth <= maxLinkDepth; depth++ {
		e, ok := idx.entries[cur]
		if !ok {
			if cur == name {
				return nil, fmt.Errorf("%w: %q", ErrMissingEntry, name)
			}
			return nil, fmt.Errorf("%w: %q links to %q, which the archive lacks", ErrBadLink, name, cur)
		}
		if unique && idx.duplicates[cur] {
			return nil, fmt.Errorf("%w: %q appears twice", ErrAmbiguousEntry, cur)
		}
		switch e.Type {
		case tar.TypeReg:
			return e, nil
		case tar.TypeSymlink:
			cur = path.Join(path.Dir(cur), e.Linkname)
		case tar.TypeLink:
			cur = path.Clean(e.Linkname)
		default:
			return nil, fmt.Errorf("%w: %q is not a regular file (tar type %q)", ErrUnsupportedEntry, cur, e.Type)
		}
		if strings.HasPrefix(e.Linkname, "/") || cur == ".." || strings.HasPrefix(cur, "../") {
			return nil, fmt.Errorf("%w: %q links to %q, outside the archive", ErrBadLink, name, e.Linkname)
		}
	}
	return nil, fmt.Errorf("%w: %q: more than %d links, or a loop", ErrBadLink, name, maxLinkDepth)
}
