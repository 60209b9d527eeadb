package archive

import (
	"archive/tar"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/source"
	"github.com/ocitar/ocitar/source/gzindex"
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
// tar's entries, so that the next open reads neither.
type gzipPass struct{}

func (gzipPass) key(src source.Source) string { return src.Identity() + "-gzindex" }

func (gzipPass) build(src source.Source, opts Options) (*Reader, []byte, error) {
	in, err := newProgressReader(src, "indexing", opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	defer in.Close()
	ix := gzindex.NewIndexer(in, gzindex.Options{Spacing: gzipSpacing, MaxRatio: opts.maxSpoolRatio()})
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
	r, err := openGzipIndexed(src, gi, idx, opts)
	if err != nil {
		return nil, nil, err
	}
	kept, err := keepGzip(gi, entries)
	if err != nil {
		r.Close()
		return nil, nil, inArchive(src.Name(), err)
	}
	return r, kept, nil
}

func (gzipPass) reopen(src source.Source, kept []byte, opts Options) (*Reader, error) {
	gi, entries, err := unkeepGzip(kept, src.Size(), opts)
	if err != nil {
		return nil, err
	}
	idx, err := indexOfEntries(entries)
	if err != nil {
		return nil, err
	}
	return openGzipIndexed(src, gi, idx, opts)
}

// openGzipIndexed reads the tar of idx through the checkpoints of gi.
func openGzipIndexed(src source.Source, gi *gzindex.Index, idx *tarIndex, opts Options) (*Reader, error) {
	spans, err := gzindex.Open(src, gi)
	if err != nil {
		return nil, inArchive(src.Name(), err)
	}
	return openSpans(src, compression.Gzip, spans, idx, opts)
}

// keepGzip is what the cache keeps of a gzip: its index, then its tar's entries.
func keepGzip(gi *gzindex.Index, entries []storedEntry) ([]byte, error) {
	index, err := gi.MarshalBinary()
	if err != nil {
		return nil, err
	}
	kept := binary.AppendUvarint(nil, uint64(len(index)))
	kept = append(kept, index...)
	return append(kept, encodeEntries(entries, gi.Size)...), nil
}

// unkeepGzip reads what keepGzip kept for a gzip of compressed bytes,
// checking that it fits.
func unkeepGzip(kept []byte, compressed int64, opts Options) (*gzindex.Index, []storedEntry, error) {
	n, w := binary.Uvarint(kept)
	if w <= 0 || n > uint64(len(kept)-w) {
		return nil, nil, fmt.Errorf("%w: no gzip index", errBadEntryTable)
	}
	gi := new(gzindex.Index)
	if err := gi.UnmarshalBinary(kept[w : w+int(n)]); err != nil {
		return nil, nil, err
	}
	if err := gi.Validate(compressed); err != nil {
		return nil, nil, err
	}
	entries, size, err := decodeEntries(kept[w+int(n):], opts)
	if err != nil {
		return nil, nil, err
	}
	if size != gi.Size {
		return nil, nil, fmt.Errorf("%w: entries of a tar of %d bytes, the gzip holds %d", errBadEntryTable, size, gi.Size)
	}
	return gi, entries, nil
}
