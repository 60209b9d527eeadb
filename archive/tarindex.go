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
//
// archive/tar still reads the last byte of the data it seeks past, so that a
// file cut short fails there, and the padding after it. indexEntries finds a
// file cut short from the sizes, before the skip, and in a compressed archive
// those reads would decode the frame, or inflate from the checkpoint, that
// holds the end of each entry: up to a few MiB for each, and a frame that
// does not decode would fail the whole archive rather than the one blob it
// holds. So reads up to skipTo, which indexEntries sets past the data of the
// entry it indexed, are answered with zeros without reading: they are of
// bytes archive/tar discards.
type countingReader struct {
	*io.SectionReader
	n      int64
	skipTo int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if pos := c.position(); pos < c.skipTo {
		n := int(min(int64(len(p)), c.skipTo-pos))
		clear(p[:n])
		c.SectionReader.Seek(int64(n), io.SeekCurrent)
		return n, nil
	}
	n, err := c.SectionReader.Read(p)
	c.n += int64(n)
	return n, err
}

// skip tells c that archive/tar discards what lies before end.
func (c *countingReader) skip(end int64) { c.skipTo = end }

func (c *countingReader) position() int64 {
	pos, _ := c.Seek(0, io.SeekCurrent)
	return pos
}

// streamReader counts its position in a stream that cannot seek, through
// which archive/tar reads entry data to skip it.
type streamReader struct {
	r   io.Reader
	pos int64
}

func (s *streamReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.pos += int64(n)
	return n, err
}

func (s *streamReader) position() int64 { return s.pos }

// positionReader is what an index is read from: a stream that knows where it is.
type positionReader interface {
	io.Reader
	position() int64
}

// indexTar reads the tar headers of ra once and returns the index and the number of
// bytes read from ra. A bad entry stops it, unless opts reports it and goes on.
func indexTar(ra io.ReaderAt, size int64, opts Options) (*tarIndex, int64, error) {
	cr := &countingReader{SectionReader: io.NewSectionReader(ra, 0, size)}
	idx, err := indexEntries(cr, size, opts, nil)
	return idx, cr.n, err
}

// indexEntries indexes the tar read from r, whose size is -1 when unknown
// (a stream). added, when set, is called with each indexed entry and its
// content before the next header is read.
func indexEntries(r positionReader, size int64, opts Options, added func(e *Entry, content io.Reader) error) (*tarIndex, error) {
	idx := &tarIndex{entries: map[string]*Entry{}, duplicates: map[string]bool{}}
	tr := tar.NewReader(r)
	var end int64 // where the last entry's data blocks end
	var last string
	var visitFailed bool
	visit := func(hdr *tar.Header) error {
		offset := r.position()
		if size >= 0 && physicalSize(hdr) > size-offset {
			return fmt.Errorf("%w: truncated: entry %q declares %d bytes, %d remain in the file", ErrNotArchive, hdr.Name, physicalSize(hdr), size-offset)
		}
		end = offset + blocks(physicalSize(hdr))
		if s, ok := r.(*countingReader); ok && added == nil {
			s.skip(end)
		}
		e, err := idx.addHeader(hdr, offset)
		// An ambiguous index.json or manifest.json leaves nothing to verify.
		if err != nil && (errors.Is(err, ErrAmbiguousEntry) || !opts.report(err)) {
			return err
		}
		if e == nil || added == nil {
			return nil
		}
		return added(e, tr)
	}
	err := eachHeader(tr, opts, func(hdr *tar.Header) error {
		last = hdr.Name
		err := visit(hdr)
		visitFailed = err != nil
		return err
	})
	// A stream that fails inside the data of an entry, which archive/tar
	// read to skip it, fails in that entry.
	if err != nil && size < 0 && !visitFailed && last != "" && r.position() < end {
		return nil, fmt.Errorf("entry %q: %w", last, err)
	}
	if err != nil {
		return nil, err
	}
	if size == 0 || r.position() == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrNotArchive)
	}
	// archive/tar takes a clean EOF after any entry for the end of the archive;
	// only the end-of-archive block tells that nothing was cut off.
	if r.position() < end+blockSize {
		return nil, fmt.Errorf("%w: truncated: no end-of-archive block after byte %d", ErrNotArchive, end)
	}
	return idx, nil
}

// eachHeader calls visit with each header of tr in order, within the limit
// on entries.
func eachHeader(tr *tar.Reader, opts Options, visit func(hdr *tar.Header) error) error {
	for count := 1; ; count++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return notTar(err)
		}
		if count > opts.maxEntries() {
			return fmt.Errorf("%w: more than %d tar entries (limit: Options.MaxEntries)", ErrTooLarge, opts.maxEntries())
		}
		if err := visit(hdr); err != nil {
			return err
		}
	}
}

// notTar is the error of a tar that archive/tar cannot read: ErrNotArchive,
// unless what it read from says what is wrong already, as a compressed
// archive's decoder does (a corrupt frame, a bomb, a member of the wrong
// CRC32 or size).
func notTar(err error) error {
	for _, kind := range []error{ErrNotArchive, ErrTooLarge, ErrDigestMismatch, ErrSizeMismatch, ErrInvalidMetadata} {
		if errors.Is(err, kind) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrNotArchive, err)
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

// addHeader indexes the entry of one header, if it carries anything to
// index, and returns it.
func (idx *tarIndex) addHeader(hdr *tar.Header, offset int64) (*Entry, error) {
	e, err := newEntry(hdr, offset)
	if err != nil || e == nil {
		return nil, err
	}
	return e, idx.add(e)
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
