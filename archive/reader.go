package archive

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/internal/hashing"
	"github.com/ocitar/ocitar/source"
	digest "github.com/opencontainers/go-digest"
)

// Options tune how an archive is opened.
type Options struct {
	// TempDir holds the spool file of a compressed or non-seekable input;
	// empty means os.TempDir() (TMPDIR).
	TempDir string
	// MaxEntries caps the number of tar entries; 0 means DefaultMaxEntries.
	MaxEntries int
	// MaxSpoolRatio caps how many times its compressed size a compressed
	// archive, or a compressed docker-save layer, may expand to; 0 means
	// DefaultMaxSpoolRatio.
	MaxSpoolRatio int64
	// Cache keeps the index of a compressed archive that cannot be entered
	// without one (a gzip that ocitar did not write), and the content of
	// one that cannot be entered at all (zstd in one frame, as k3s bundles
	// are), for the next open. Without it such an index is built at every
	// open, and such content is spooled to TempDir.
	Cache Cache
	// Notice, when set, is told what an open does that a user waits for or
	// should know: a first pass over a compressed archive, its progress,
	// an unusable cache entry.
	Notice func(msg string)
	// Context, when set, stops a first pass over a compressed archive once
	// it is done.
	Context context.Context

	problems *[]error   // set by Verify: report problems and go on where possible
	keep     *keptBlobs // set by OpenSource for a remote archive, before its layout is read
	// keptFailed, set by openKept for a reopen, is called when a read of the
	// content through what the cache kept fails (see unnamedContent).
	keptFailed func() bool
}

// Defaults of Options. DefaultMaxEntries is far above the 2,000 blobs of the
// benchmarks' 200-image archive, while keeping the index of a hostile archive
// to tens of MiB. DefaultMaxSpoolRatio is ten times the ratio of a tar of
// compression.Uncompressed layers: image tars compress 2-10x, as their layers are mostly
// compressed already, while a gzip bomb expands about 1000x and a zstd bomb far more.
const (
	DefaultMaxEntries    = 100_000
	DefaultMaxSpoolRatio = 100
)

func (o Options) maxEntries() int {
	if o.MaxEntries <= 0 {
		return DefaultMaxEntries
	}
	return o.MaxEntries
}

func (o Options) maxSpoolRatio() int64 {
	if o.MaxSpoolRatio <= 0 {
		return DefaultMaxSpoolRatio
	}
	return o.MaxSpoolRatio
}

func (o Options) notice(format string, args ...any) {
	if o.Notice != nil {
		o.Notice(fmt.Sprintf(format, args...))
	}
}

// report records err as a problem when verifying and says so; otherwise the
// caller stops at err.
func (o Options) report(err error) bool {
	if o.problems == nil {
		return false
	}
	*o.problems = append(*o.problems, err)
	return true
}

// Reader reads the images of one tar archive in place.
// It is safe for concurrent use once opened.
type Reader struct {
	opts      Options
	name      string
	files     layoutFiles
	indexRead int64
	closers   []func() error

	kept        *keptBlobs // the blobs of a remote archive, kept in the cache; nil for others
	blobs       map[digest.Digest]blobSource
	synthetic   map[digest.Digest][]byte
	types       map[digest.Digest]string // media types of the manifests and indexes met
	images      []Image
	annotations map[string]string // of index.json
}

// blobSource says where the content of a digest is stored.
type blobSource struct {
	entry      string
	decompress compression.Format // legacy docker-save layers stored compressed, served as their DiffID
	size       int64              // size of the served content, -1 until the entry is resolved
}

// Open opens the archive at path; "-" reads standard input.
//
// A tar is read in place. So is a compressed one wherever it can be entered:
// the zstd seekable format and the gzip ocitar writes by their tables, zstd
// in several frames by its frame headers, and any other gzip by an index
// that one pass builds and Options.Cache keeps. Zstd in one frame is
// decompressed once, its files' content kept in Options.Cache. Only a pipe,
// and that zstd without a cache, are spooled to a temporary file that Close
// removes.
func Open(path string, opts Options) (*Reader, error) {
	if path == "-" {
		return openFile(os.Stdin, "stdin", opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return OpenFile(f, path, opts)
}

// OpenFile is Open of the file f, named name in errors. The Reader closes
// f, and so does OpenFile when it fails.
func OpenFile(f *os.File, name string, opts Options) (*Reader, error) {
	r, err := openFile(f, name, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closers = append(r.closers, f.Close)
	return r, nil
}

// openFile reads a regular file through its Source, and anything else (a
// named pipe) as a stream.
func openFile(f *os.File, name string, opts Options) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return spool(f, name, opts)
	}
	src, err := source.NewFile(f, name)
	if err != nil {
		return nil, err
	}
	return OpenSource(src, opts)
}

// OpenStream reads a tar, possibly compressed, from r once into a temporary file
// and opens that.
func OpenStream(r io.Reader, name string, opts Options) (*Reader, error) {
	return spool(r, name, opts)
}

// NewReader opens the compression.Uncompressed tar archive held by ra.
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) {
	return newNamedReader(ra, size, "archive", Options{})
}

func newNamedReader(ra io.ReaderAt, size int64, name string, opts Options) (*Reader, error) {
	idx, n, err := indexTar(ra, size, opts)
	if err != nil {
		return nil, inArchive(name, err)
	}
	r, err := newFilesReader(tarFiles{indexedNames: indexedNames{idx}, ra: ra}, name, opts)
	if err != nil {
		return nil, err
	}
	r.indexRead = n
	return r, nil
}

// newFilesReader reads the image layout that files hold.
func newFilesReader(files layoutFiles, name string, opts Options) (*Reader, error) {
	r := &Reader{
		opts: opts, name: name, files: files, kept: opts.keep,
		blobs: map[digest.Digest]blobSource{}, synthetic: map[digest.Digest][]byte{},
		types: map[digest.Digest]string{},
	}
	if err := r.load(); err != nil {
		return nil, inArchive(name, err)
	}
	return r, nil
}

func spool(src io.Reader, name string, opts Options) (*Reader, error) {
	stream, _, err := compression.OpenDecompressed(src, 1<<20, opts.maxSpoolRatio())
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
	r, err := newNamedReader(tmp, size, name, opts)
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
	return r.files.entries()
}

// Images lists the images of the archive in the order the archive gives them.
func (r *Reader) Images() []Image {
	return append([]Image(nil), r.images...)
}

// readFile reads a whole metadata file, following links, refusing more than limit bytes.
func (r *Reader) readFile(name string, limit int64) ([]byte, error) {
	return r.files.readFile(name, limit)
}

func (r *Reader) hasEntry(name string) bool {
	return r.files.has(name)
}

// OpenBlob returns the content of the blob d and its size. Reading it to EOF
// fails unless the content matches d and the size.
func (r *Reader) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	if stack, ok := r.files.(*stackFiles); ok {
		return stack.openBlob(d)
	}
	stream, size, what, err := r.openBlob(d)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", r.name, err)
	}
	if size >= hashing.Chunk { // few large reads of the file, whatever size the caller reads in (the copy engine: 32 KiB)
		stream = stackedCloser{ReadCloser: io.NopCloser(bufio.NewReaderSize(stream, hashing.Chunk)), under: stream}
	}
	v, err := hashing.NewVerified(stream, r.name+": "+what, d, size)
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
	if r.kept != nil {
		return r.openKept(d)
	}
	return r.openStored(d)
}

// openKept returns blob d from the cache, fetching it into the cache first.
func (r *Reader) openKept(d digest.Digest) (io.ReadCloser, int64, string, error) {
	sec, err := r.keptSection(d)
	if err != nil {
		return nil, 0, "", err
	}
	return io.NopCloser(sec), sec.Size(), r.blobs[d].entry, nil
}

func (r *Reader) keptSection(d digest.Digest) (*io.SectionReader, error) {
	src, ok := r.blobs[d]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrMissingBlob, d)
	}
	f, err := r.kept.file(d, func() (io.ReadCloser, error) {
		rc, _, _, err := r.openStored(d)
		return rc, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.entry, err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.entry, err)
	}
	return io.NewSectionReader(f, 0, st.Size()), nil
}

// openStored returns blob d as the archive stores it.
func (r *Reader) openStored(d digest.Digest) (io.ReadCloser, int64, string, error) {
	src, ok := r.blobs[d]
	if !ok {
		return nil, 0, "", fmt.Errorf("%w: %s", ErrMissingBlob, d)
	}
	stored, size, err := r.files.open(src.entry)
	if err != nil {
		return nil, 0, "", fmt.Errorf("blob %s: %w", d, err)
	}
	if src.decompress == compression.Uncompressed {
		return stored, size, src.entry, nil
	}
	stream, err := compression.Decompress(stored, src.decompress)
	if err != nil {
		stored.Close()
		return nil, 0, "", fmt.Errorf("%s: %w", src.entry, err)
	}
	return stackedCloser{ReadCloser: stream, under: stored}, src.size, src.entry, nil
}

// BlobSection gives random access to the stored bytes of blob d of a tar
// archive, unverified; of a remote one, to the copy kept in the cache,
// fetched and verified on first use. Blobs that are decompressed on the fly (compressed
// legacy docker-save layers) and those of a directory have no section.
func (r *Reader) BlobSection(d digest.Digest) (*io.SectionReader, error) {
	if r.kept != nil {
		sec, err := r.keptSection(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
		return sec, nil
	}
	if stack, ok := r.files.(*stackFiles); ok {
		return stack.section(d)
	}
	tar, isTar := r.files.(tarFiles)
	if !isTar {
		return nil, fmt.Errorf("%s: blob %s: not a tar archive; open it with OpenBlob", r.name, d)
	}
	src, ok := r.blobs[d]
	if !ok {
		return nil, fmt.Errorf("%s: %w: %s", r.name, ErrMissingBlob, d)
	}
	if src.decompress != compression.Uncompressed {
		return nil, fmt.Errorf("%s: blob %s is stored %s in %s; open it with OpenBlob", r.name, d, src.decompress, src.entry)
	}
	sec, err := tar.section(src.entry)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", r.name, d, err)
	}
	if content, ok := tar.ra.(unnamedContent); ok {
		// What reads the section names neither the archive nor the entry.
		_, off, n := sec.Outer()
		sec = io.NewSectionReader(namedContent{content, r.name + ": " + src.entry}, off, n)
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
	return hashing.ReadAll(rc, what, d, stored, limit)
}
