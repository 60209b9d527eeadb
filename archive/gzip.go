package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/source"
	"github.com/ocitar/ocitar/source/gzindex"
	digest "github.com/opencontainers/go-digest"
)

// gzipSpacing is how far apart the checkpoints of a gzip index are inside a
// large entry: a read inside a blob decodes at most this much to get there.
const gzipSpacing = 4 << 20

// openGzip reads a gzip in place: ocitar's own by its member table, any
// other by a checkpoint index that one pass builds.
func openGzip(src source.Source, opts Options) (*Reader, error) {
	idx, err := gzindex.ReadTable(src)
	switch {
	case err == nil:
		spans, err := gzindex.Open(src, idx)
		if err != nil {
			return nil, inArchive(src.Name(), err)
		}
		return openSpans(src, compression.Gzip, spans, nil, opts)
	case errors.Is(err, gzindex.ErrNoTable):
		return openKept(src, gzipPass{}, opts)
	}
	return nil, inArchive(src.Name(), err)
}

// gzipPass indexes a gzip in one pass: checkpoints of the inflate state at
// each tar entry's data and every gzipSpacing inside large entries, and the
// tar's entries, so that the next open reads neither. The windows of the
// checkpoints, 32 KiB each before they are deflated, are staged in the
// cache as a blob as the pass makes them; what is kept under the key names
// that blob, and each open reads a window from it only when a read enters
// the stream at its checkpoint.
type gzipPass struct{}

func (gzipPass) key(src source.Source) string { return src.Identity() + "-gzindex" }

func (gzipPass) build(src source.Source, opts Options) (*Reader, []byte, error) {
	if opts.Cache == nil {
		return buildGzip(src, nil, opts)
	}
	spool := spoolWindows(opts.Cache)
	r, kept, err := buildGzip(src, spool, opts)
	spool.abort()
	if spool.err != nil {
		opts.notice("%s: keeping the windows of its index in the cache: %v; indexing it again, in memory", src.Name(), spool.err)
		return buildGzip(src, nil, opts)
	}
	return r, kept, err
}

// buildGzip makes the pass, its windows staged by spool or, when it is
// nil, kept in memory; only then does it return what to keep.
func buildGzip(src source.Source, spool *windowSpool, opts Options) (*Reader, []byte, error) {
	in, err := newProgressReader(src, "indexing", opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	defer in.Close()
	ixOpts := gzindex.Options{Spacing: gzipSpacing, MaxRatio: opts.maxSpoolRatio()}
	if spool != nil {
		ixOpts.Windows = spool
	}
	ix := gzindex.NewIndexer(in, ixOpts)
	var entries []storedEntry
	idx, err := indexEntries(&streamReader{r: ix}, -1, opts, func(e *Entry, _ io.Reader) error {
		entries = append(entries, storedEntry{Entry: *e})
		if e.Type == tar.TypeReg {
			ix.Mark(e.Offset)
		}
		return nil
	})
	if err != nil {
		return nil, nil, inArchive(src.Name(), err)
	}
	gi, err := ix.Finish()
	if err != nil {
		return nil, nil, inArchive(src.Name(), err)
	}
	if spool == nil {
		r, err := openGzipIndexed(src, gi, idx, opts)
		return r, nil, err
	}
	return openStaged(src, gi, idx, spool, entries, opts)
}

// openStaged opens the gzip indexed by gi and idx once spool has staged
// the windows of gi, and returns what to keep. A failure removes the
// windows, unless the cache held them before.
func openStaged(src source.Source, gi *gzindex.Index, idx *tarIndex, spool *windowSpool, entries []storedEntry, opts Options) (*Reader, []byte, error) {
	windows, err := spool.finish(gi.WindowBytes)
	if err != nil {
		return nil, nil, inArchive(src.Name(), err)
	}
	gi.Windows = windows
	r, err := openGzipIndexed(src, gi, idx, opts)
	if err != nil {
		windows.Close()
		spool.undo()
		return nil, nil, err
	}
	r.closers = append(r.closers, windows.Close)
	kept, err := keepGzip(gi, spool.digest, entries)
	if err != nil {
		r.Close()
		spool.undo()
		return nil, nil, inArchive(src.Name(), err)
	}
	return r, kept, nil
}

func (gzipPass) reopen(src source.Source, kept []byte, opts Options) (*Reader, error) {
	gi, windows, entries, err := unkeepGzip(kept, src.Size(), opts)
	if err != nil {
		return nil, err
	}
	idx, err := indexOfEntries(entries)
	if err != nil {
		return nil, err
	}
	f, size, err := opts.Cache.Open(windows)
	if err != nil {
		return nil, fmt.Errorf("the windows of its index: %w", err)
	}
	// Windows that fail their checksums would be staged again as they
	// are, their digest unchanged: the index is dropped with them.
	dropWindows := sync.OnceFunc(func() { opts.Cache.Remove(windows) })
	if size != gi.WindowBytes {
		f.Close()
		dropWindows()
		return nil, fmt.Errorf("%w: the windows of its index take %d bytes, the index says %d", errBadEntryTable, size, gi.WindowBytes)
	}
	gi.Windows = f
	failed := opts.keptFailed
	opts.keptFailed = func() bool { dropWindows(); return failed() }
	r, err := openGzipIndexed(src, gi, idx, opts)
	if err != nil {
		f.Close()
		dropWindows()
		return nil, err
	}
	r.closers = append(r.closers, f.Close)
	return r, nil
}

func (gzipPass) staged(kept []byte) ([]digest.Digest, error) {
	_, windows, _, err := splitKeptGzip(kept)
	return []digest.Digest{windows}, err
}

// openGzipIndexed reads the tar of idx through the checkpoints of gi.
func openGzipIndexed(src source.Source, gi *gzindex.Index, idx *tarIndex, opts Options) (*Reader, error) {
	spans, err := gzindex.Open(src, gi)
	if err != nil {
		return nil, inArchive(src.Name(), err)
	}
	return openSpans(src, compression.Gzip, spans, idx, opts)
}

// keepGzip is what the cache keeps of a gzip: its index, the digest of the
// blob of its windows, then its tar's entries.
func keepGzip(gi *gzindex.Index, windows digest.Digest, entries []storedEntry) ([]byte, error) {
	index, err := gi.MarshalBinary()
	if err != nil {
		return nil, err
	}
	kept := appendString(nil, string(index))
	kept = appendString(kept, string(windows))
	return append(kept, encodeEntries(entries, gi.Size)...), nil
}

// unkeepGzip reads what keepGzip kept for a gzip of compressed bytes,
// checking that it fits.
func unkeepGzip(kept []byte, compressed int64, opts Options) (*gzindex.Index, digest.Digest, []storedEntry, error) {
	index, windows, table, err := splitKeptGzip(kept)
	if err != nil {
		return nil, "", nil, err
	}
	gi := new(gzindex.Index)
	if err := gi.UnmarshalBinary(index); err != nil {
		return nil, "", nil, err
	}
	if err := gi.Validate(compressed); err != nil {
		return nil, "", nil, err
	}
	entries, size, err := decodeEntries(table, opts)
	if err != nil {
		return nil, "", nil, err
	}
	if size != gi.Size {
		return nil, "", nil, fmt.Errorf("%w: entries of a tar of %d bytes, the gzip holds %d", errBadEntryTable, size, gi.Size)
	}
	return gi, windows, entries, nil
}

// splitKeptGzip splits what keepGzip kept into the encoded index, the
// digest of its windows and the entry table.
func splitKeptGzip(kept []byte) (index []byte, windows digest.Digest, table []byte, err error) {
	d := &tableDecoder{data: kept}
	index = []byte(d.string())
	windows = digest.Digest(d.string())
	if d.err != nil {
		return nil, "", nil, fmt.Errorf("%w: no gzip index", errBadEntryTable)
	}
	if err := windows.Validate(); err != nil {
		return nil, "", nil, fmt.Errorf("%w: the windows of the gzip index: %v", errBadEntryTable, err)
	}
	return index, windows, d.data, nil
}
