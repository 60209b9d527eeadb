package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"
)

// Options tune how an archive is opened.
type Options struct {
	// TempDir holds the spool file of a compressed or non-seekable input;
	// empty means os.TempDir() (TMPDIR).
	TempDir string
}

// Reader reads the images of one tar archive in place.
// It is safe for concurrent use once opened.
type Reader struct {
	name      string
	ra        io.ReaderAt
	idx       *tarIndex
	indexRead int64
	closers   []func() error

	blobs     map[digest.Digest]blobSource
	synthetic map[digest.Digest][]byte
	types     map[digest.Digest]string // media types of the manifests and indexes met
	images    []Image
}

// blobSource says where the content of a digest is stored.
type blobSource struct {
	entry      string
	decompress compression // legacy docker-save layers stored compressed, served as their DiffID
	size       int64       // size of the served content, -1 until the entry is resolved
}

// Open opens the archive at path; "-" reads standard input.
// A seekable uncompressed file is read in place; anything else is decompressed
// and spooled once to a temporary file that Close removes.
func Open(path string, opts Options) (*Reader, error) {
	f, name := os.Stdin, "stdin"
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
		name = path
	}
	r, err := openFile(f, name, opts)
	if err != nil {
		if path != "-" {
			f.Close()
		}
		return nil, err
	}
	if path != "-" {
		r.closers = append(r.closers, f.Close)
	}
	return r, nil
}

func openFile(f *os.File, name string, opts Options) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if st.Mode().IsRegular() {
		c, err := detectCompressionAt(f, 0, st.Size())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if c == uncompressed {
			return newNamedReader(f, st.Size(), name)
		}
	}
	return spool(f, name, opts)
}

// OpenStream reads a tar, possibly compressed, from r once into a temporary file
// and opens that.
func OpenStream(r io.Reader, name string, opts Options) (*Reader, error) {
	return spool(r, name, opts)
}

// NewReader opens the uncompressed tar archive held by ra.
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) {
	return newNamedReader(ra, size, "archive")
}

func newNamedReader(ra io.ReaderAt, size int64, name string) (*Reader, error) {
	idx, n, err := indexTar(ra, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r := &Reader{
		name: name, ra: ra, idx: idx, indexRead: n,
		blobs: map[digest.Digest]blobSource{}, synthetic: map[digest.Digest][]byte{},
		types: map[digest.Digest]string{},
	}
	if err := r.load(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

func spool(src io.Reader, name string, opts Options) (*Reader, error) {
	br := bufio.NewReaderSize(src, 1<<20)
	head, _ := br.Peek(len(zstdMagic))
	stream, err := decompress(br, detectCompression(head))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer stream.Close()
	tmp, err := os.CreateTemp(opts.TempDir, "ocitar-spool-*.tar")
	if err != nil {
		return nil, fmt.Errorf("%s: spooling: %w", name, err)
	}
	cleanup := func() error {
		tmp.Close()
		return os.Remove(tmp.Name())
	}
	size, err := io.Copy(tmp, stream)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("%s: spooling to %s: %w", name, tmp.Name(), err)
	}
	r, err := newNamedReader(tmp, size, name)
	if err != nil {
		cleanup()
		return nil, err
	}
	r.closers = append(r.closers, cleanup)
	return r, nil
}

// Close releases the archive and removes its spool file, if any.
func (r *Reader) Close() error {
	var first error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	r.closers = nil
	return first
}

// Name is how errors name the archive: its path, or "stdin".
func (r *Reader) Name() string { return r.name }

// IndexBytesRead is how many bytes of the archive were read to index its entries.
func (r *Reader) IndexBytesRead() int64 { return r.indexRead }

// Entries lists the entries of the archive in archive order.
func (r *Reader) Entries() []Entry {
	out := make([]Entry, 0, len(r.idx.order))
	for _, n := range r.idx.order {
		out = append(out, *r.idx.entries[n])
	}
	return out
}

// Images lists the images of the archive in the order the archive gives them.
func (r *Reader) Images() []Image {
	return append([]Image(nil), r.images...)
}

// readFile reads a whole metadata file, following links, refusing more than limit bytes.
func (r *Reader) readFile(name string, limit int64) ([]byte, error) {
	e, err := r.idx.resolve(name)
	if err != nil {
		return nil, err
	}
	if e.Size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, name, e.Size, limit)
	}
	buf := make([]byte, e.Size)
	if _, err := r.ra.ReadAt(buf, e.Offset); err != nil && !(err == io.EOF && len(buf) == 0) {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return buf, nil
}

// section returns the stored bytes of a resolved entry.
func (r *Reader) section(name string) (*io.SectionReader, error) {
	e, err := r.idx.resolve(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(r.ra, e.Offset, e.Size), nil
}

func (r *Reader) hasEntry(name string) bool {
	_, ok := r.idx.entries[name]
	return ok
}

// OpenBlob returns the content of the blob d and its size. Reading it to EOF
// fails unless the content matches d and the size.
func (r *Reader) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	stream, size, what, err := r.openBlob(d)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", r.name, err)
	}
	v, err := newVerifiedReader(stream, r.name+": "+what, d, size)
	if err != nil {
		return nil, 0, err
	}
	return v, size, nil
}

// openBlob returns the unverified content of blob d, its size and a description for errors.
func (r *Reader) openBlob(d digest.Digest) (io.ReadCloser, int64, string, error) {
	if m, ok := r.synthetic[d]; ok {
		return io.NopCloser(bytes.NewReader(m)), int64(len(m)), "manifest " + d.String(), nil
	}
	src, ok := r.blobs[d]
	if !ok {
		return nil, 0, "", fmt.Errorf("%w: %s", ErrMissingBlob, d)
	}
	sec, err := r.section(src.entry)
	if err != nil {
		return nil, 0, "", fmt.Errorf("blob %s: %w", d, err)
	}
	size := src.size
	if src.decompress == uncompressed {
		size = sec.Size()
	}
	stream, err := decompress(sec, src.decompress)
	if err != nil {
		return nil, 0, "", fmt.Errorf("%s: %w", src.entry, err)
	}
	return stream, size, src.entry, nil
}

// BlobSection gives random access to the stored bytes of blob d, unverified.
// Blobs that are decompressed on the fly (compressed legacy docker-save layers)
// have no section.
func (r *Reader) BlobSection(d digest.Digest) (*io.SectionReader, error) {
	src, ok := r.blobs[d]
	if !ok {
		return nil, fmt.Errorf("%s: %w: %s", r.name, ErrMissingBlob, d)
	}
	if src.decompress != uncompressed {
		return nil, fmt.Errorf("%s: blob %s is stored %s in %s; open it with OpenBlob", r.name, d, src.decompress, src.entry)
	}
	sec, err := r.section(src.entry)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", r.name, d, err)
	}
	return sec, nil
}

// readBlob reads a whole small blob, verified against d and size.
func (r *Reader) readBlob(d digest.Digest, size, limit int64) ([]byte, error) {
	rc, stored, what, err := r.openBlob(d)
	if err != nil {
		return nil, err
	}
	if size >= 0 && stored != size {
		rc.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, %d declared", ErrSizeMismatch, what, stored, size)
	}
	return readVerified(rc, what, d, stored, limit)
}
