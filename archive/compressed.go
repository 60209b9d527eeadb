package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/source"
	digest "github.com/opencontainers/go-digest"
)

// Cache keeps what a first open of a compressed archive built, for the next
// open of the same archive (an index, keyed by the archive's identity), and
// the content of archives that cannot be read in place (blobs, by digest).
// cache.Cache implements it; several processes may share one.
type Cache interface {
	ReadIndex(key string) ([]byte, error) // fs.ErrNotExist when absent
	WriteIndex(key string, data []byte) error
	RemoveIndex(key string) error
	// Lock holds key against other processes until unlock, so that one
	// builds what the others then read.
	Lock(key string) (unlock func() error, err error)
	Open(d digest.Digest) (*os.File, int64, error)
	// Put stores the content of r, checked against want unless it is "",
	// and reports whether the cache lacked it.
	Put(r io.Reader, want digest.Digest) (got digest.Digest, size int64, added bool, err error)
	// Stage is Put of content whose digest is computed, which need not be
	// on disk until Sync makes it so.
	Stage(r io.Reader) (got digest.Digest, size int64, added bool, err error)
	Sync(ds []digest.Digest) error
	Remove(d digest.Digest) error
}

// OpenSource opens the archive src holds: a tar, or a tar compressed with
// gzip or zstd, which is read in place wherever it can be entered (see
// Open).
//
// The blobs of a remote archive (a source.Streamer) are fetched whole into
// Options.Cache on first use, verified, and served from there.
func OpenSource(src source.Source, opts Options) (*Reader, error) {
	opts.keep = keepsBlobs(src, opts)
	r, err := openSource(src, opts)
	if err != nil {
		if opts.keep != nil {
			opts.keep.close()
		}
		return nil, err
	}
	if r.kept != nil {
		r.closers = append(r.closers, r.kept.close)
	}
	return r, nil
}

func openSource(src source.Source, opts Options) (*Reader, error) {
	format, err := compression.DetectAt(src, 0, src.Size())
	if err != nil {
		return nil, inArchive(src.Name(), err)
	}
	switch format {
	case compression.Gzip:
		return openGzip(src, opts)
	case compression.Zstd:
		return openZstd(src, opts)
	}
	if _, remote := src.(source.Streamer); remote {
		return openKept(src, remoteTarPass{}, opts)
	}
	return newNamedReader(src, src.Size(), src.Name(), opts)
}

// inArchive prefixes err with the archive's name, as every error of Open
// starts, unless it starts so already: source/ and its format packages
// name the file they read in their errors, which pass through as they are.
func inArchive(name string, err error) error {
	if strings.HasPrefix(err.Error(), name+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// openSpans reads the tar whose uncompressed content spans gives, indexed
// by idx or, when it is nil, by reading its headers through spans.
func openSpans(src source.Source, format compression.Format, spans *source.Spans, idx *tarIndex, opts Options) (*Reader, error) {
	r, err := openSpansIndexed(src, format, spans, idx, opts)
	if err != nil {
		spans.Close()
		return nil, err
	}
	r.closers = append(r.closers, spans.Close)
	return r, nil
}

func openSpansIndexed(src source.Source, format compression.Format, spans *source.Spans, idx *tarIndex, opts Options) (*Reader, error) {
	if err := checkRatio(src, format, spans.Size(), opts); err != nil {
		return nil, err
	}
	content := unnamedContent{spans, opts.keptFailed}
	if idx == nil {
		return newNamedReader(content, spans.Size(), src.Name(), opts)
	}
	return newIndexedReader(content, idx, src.Name(), opts)
}

// unnamedContent is the uncompressed content of a compressed archive, as
// a Reader reads it: its errors, which a Source's name the archive, do
// not, since the Reader names it in every error with what it was reading
// (the archive, the entry, the blob).
type unnamedContent struct {
	*source.Spans
	// keptFailed, when the spans come from what the cache kept, drops that
	// after a failed read, and tells whether the open is done (the read
	// is a later one, whose error should say so).
	keptFailed func() bool
}

func (c unnamedContent) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.Spans.ReadAt(p, off)
	if err != nil && err != io.EOF {
		if prefix := c.Name() + ": "; strings.HasPrefix(err.Error(), prefix) {
			err = unnamedError{err, len(prefix)}
		}
		if c.keptFailed != nil && c.keptFailed() {
			err = fmt.Errorf("%w (read through its index in the cache, now removed: the next open builds it again)", err)
		}
	}
	return n, err
}

// namedContent is the content of a compressed archive read for a section
// of one entry, whose errors name the archive and the entry.
type namedContent struct {
	unnamedContent
	name string // the archive's and the entry's
}

func (c namedContent) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.unnamedContent.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", c.name, err)
	}
	return n, err
}

// unnamedError is err without the name it starts with.
type unnamedError struct {
	err  error
	name int // bytes of the name, and the ": " after it
}

func (e unnamedError) Error() string { return e.err.Error()[e.name:] }
func (e unnamedError) Unwrap() error { return e.err }

// checkRatio refuses an archive whose index says it expands beyond the bound
// on decompression, as a decompression bomb would.
func checkRatio(src source.Source, format compression.Format, size int64, opts Options) error {
	if err := compression.CheckRatio(format, opts.maxSpoolRatio(), size, src.Size()); err != nil {
		return fmt.Errorf("%s: %w", src.Name(), err)
	}
	return nil
}

// newIndexedReader reads the image layout of a tar already indexed.
func newIndexedReader(ra io.ReaderAt, idx *tarIndex, name string, opts Options) (*Reader, error) {
	return newFilesReader(tarFiles{indexedNames: indexedNames{idx}, ra: ra}, name, opts)
}

// A pass reads an archive once, as a stream, to build what reads it in place
// thereafter; what it builds is kept in the cache under key.
type pass interface {
	key(src source.Source) string
	// build reads src once and returns its Reader and the bytes to keep.
	build(src source.Source, opts Options) (*Reader, []byte, error)
	// reopen opens src again from what build kept.
	reopen(src source.Source, kept []byte, opts Options) (*Reader, error)
}

// A stagingPass builds on blobs it staged in the cache (Cache.Stage): they
// are synced before what it kept is, which a reopen trusts to name them.
type stagingPass interface {
	pass
	staged(kept []byte) ([]digest.Digest, error)
}

// openKept opens src from what an earlier pass kept in the cache, or makes
// the pass and keeps what it built. Another process opening the same archive
// waits for the pass, then reads what it kept. What was kept but does not fit
// the archive is said so, removed and built again.
func openKept(src source.Source, p pass, opts Options) (*Reader, error) {
	c := opts.Cache
	if c == nil {
		r, _, err := p.build(src, opts)
		return r, err
	}
	key := p.key(src)
	unlock, err := c.Lock(key)
	if err != nil {
		return nil, fmt.Errorf("%s: locking its cache entry: %w", src.Name(), err)
	}
	r, kept, err := openLocked(src, p, key, opts)
	if err != nil || kept == nil {
		unlock()
		return r, err
	}
	// What the pass built is kept while the Reader serves: its Close
	// waits for that, and other processes for the lock.
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unlock()
		keep(src, p, key, kept, opts)
	}()
	r.closers = append(r.closers, func() error { <-done; return nil })
	return r, nil
}

// openLocked is openKept under the lock of key: the Reader, and the bytes
// to keep when it made the pass.
func openLocked(src source.Source, p pass, key string, opts Options) (*Reader, []byte, error) {
	c := opts.Cache
	kept, err := c.ReadIndex(key)
	if err == nil {
		// A kept index that fits the archive's sizes but is stale or
		// forged is found out where a read passes what it gets wrong,
		// which may be long after the open: that read drops it.
		reopts := opts
		var drop sync.Once
		var opened atomic.Bool
		reopts.keptFailed = func() bool {
			drop.Do(func() { c.RemoveIndex(key) })
			return opened.Load()
		}
		r, rerr := p.reopen(src, kept, reopts)
		if rerr == nil {
			opened.Store(true)
			return r, nil, nil
		}
		err = rerr
	}
	if !errors.Is(err, fs.ErrNotExist) {
		opts.notice("%s: the cached index does not fit the archive (%v); building it again", src.Name(), err)
		if err := c.RemoveIndex(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: removing its cached index: %w", src.Name(), err)
		}
	}
	return p.build(src, opts)
}

// keep writes what a pass built into the cache, after the blobs it staged.
func keep(src source.Source, p pass, key string, kept []byte, opts Options) {
	c := opts.Cache
	err := func() error {
		if sp, ok := p.(stagingPass); ok {
			ds, err := sp.staged(kept)
			if err == nil {
				err = c.Sync(ds)
			}
			if err != nil {
				return err
			}
		}
		return c.WriteIndex(key, kept)
	}()
	if err != nil {
		opts.notice("%s: keeping its index in the cache: %v", src.Name(), err)
	}
}
