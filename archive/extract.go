package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/source"
	digest "github.com/opencontainers/go-digest"
)

// extractPass decompresses an archive that cannot be entered mid-stream (zstd
// in one frame) once, putting the content of each of its files into the
// cache by digest: a restart, and any other archive holding the same
// content, reads it from there. The tar itself is never copied: its entries
// are laid end to end in a virtual tar whose data is the cached content.
type extractPass struct{}

func (extractPass) key(src source.Source) string { return src.Identity() + "-files" }

func (extractPass) build(src source.Source, opts Options) (*Reader, []byte, error) {
	if opts.Cache == nil {
		return spoolSource(src, opts)
	}
	x := &extraction{cache: opts.Cache}
	idx, err := x.read(src, opts)
	if err != nil {
		x.undo()
		return nil, nil, inArchive(src.Name(), err)
	}
	r, err := x.reader(idx, src.Name(), opts)
	if err != nil {
		x.undo()
		return nil, nil, err
	}
	opts.notice("%s is zstd that cannot be entered mid-stream (one frame, as zstd -T0 writes, or frames that do not record their size, as pzstd writes): "+
		"its files were decompressed once into the cache; ocitar recompress %s OUT.tar.zst writes a copy that is read in place", src.Name(), src.Name())
	return r, encodeEntries(x.entries, x.size), nil
}

func (extractPass) reopen(src source.Source, kept []byte, opts Options) (*Reader, error) {
	x := &extraction{cache: opts.Cache}
	var err error
	if x.entries, x.size, err = decodeEntries(kept, opts); err != nil {
		return nil, err
	}
	idx, err := indexOfEntries(x.entries)
	if err != nil {
		return nil, err
	}
	return x.reader(idx, src.Name(), opts)
}

func (extractPass) staged(kept []byte) ([]digest.Digest, error) {
	entries, _, err := decodeEntries(kept, Options{})
	if err != nil {
		return nil, err
	}
	var ds []digest.Digest
	for _, e := range entries {
		if e.Digest != "" {
			ds = append(ds, e.Digest)
		}
	}
	return ds, nil
}

// spoolSource decompresses src into a temporary file, for a caller without a cache.
func spoolSource(src source.Source, opts Options) (*Reader, []byte, error) {
	in, err := wholeStream(src, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	defer in.Close()
	r, err := spool(in, src.Name(), opts)
	return r, nil, err
}

// extraction is the content of an archive's files, in the cache.
type extraction struct {
	cache   Cache
	entries []storedEntry
	size    int64           // of the virtual tar: the files' content end to end
	added   []digest.Digest // what this pass put into the cache
}

// read decompresses src once, putting each file's content into the cache.
func (x *extraction) read(src source.Source, opts Options) (*tarIndex, error) {
	in, err := newProgressReader(src, "decompressing", opts)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	stream, _, err := compression.OpenDecompressed(in, 1<<20, opts.maxSpoolRatio())
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	idx, err := indexEntries(&streamReader{r: stream}, -1, opts, x.put)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, stream); err != nil { // the end of the stream checks what came before it
		return nil, err
	}
	return idx, nil
}

// put keeps the content of e, which the index then finds in the virtual tar.
func (x *extraction) put(e *Entry, content io.Reader) error {
	stored := storedEntry{Entry: *e}
	if e.Type == tar.TypeReg {
		d, n, added, err := x.cache.Stage(content)
		if err != nil {
			return fmt.Errorf("entry %q: %w", e.Name, err)
		}
		if added {
			x.added = append(x.added, d)
		}
		e.Offset = x.size
		stored.Offset, stored.Size, stored.Digest = x.size, n, d
		x.size += n
	}
	x.entries = append(x.entries, stored)
	return nil
}

// undo removes what a failed pass put into the cache.
func (x *extraction) undo() {
	for _, d := range x.added {
		x.cache.Remove(d)
	}
}

// reader opens the cached content and reads the archive's image layout from it.
func (x *extraction) reader(idx *tarIndex, name string, opts Options) (*Reader, error) {
	content, err := x.open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r, err := newIndexedReader(content, idx, name, opts)
	if err != nil {
		content.Close()
		return nil, err
	}
	r.closers = append(r.closers, content.Close)
	return r, nil
}

// open opens the cached file of each entry with content.
func (x *extraction) open() (*keptContent, error) {
	k := &keptContent{size: x.size}
	files := map[digest.Digest]*os.File{}
	for _, e := range x.entries {
		if e.Type != tar.TypeReg || e.Size == 0 {
			continue
		}
		f, ok := files[e.Digest]
		if !ok {
			var size int64
			var err error
			if f, size, err = x.cache.Open(e.Digest); err != nil {
				k.Close()
				return nil, fmt.Errorf("%s: %w", e.Name, err)
			}
			if size != e.Size {
				k.Close()
				return nil, fmt.Errorf("%s: the cache holds %d bytes of %s, %d expected", e.Name, size, e.Digest, e.Size)
			}
			files[e.Digest] = f
			k.files = append(k.files, f)
		}
		k.parts = append(k.parts, keptPart{offset: e.Offset, size: e.Size, file: f})
	}
	sort.Slice(k.parts, func(i, j int) bool { return k.parts[i].offset < k.parts[j].offset })
	return k, nil
}

// keptContent is the virtual tar of an extraction: each file's content, end
// to end, read from the cache.
type keptContent struct {
	parts []keptPart // by offset
	files []*os.File
	size  int64
}

type keptPart struct {
	offset, size int64
	file         *os.File
}

func (k *keptContent) ReadAt(p []byte, off int64) (int, error) {
	var done int
	for done < len(p) {
		at := off + int64(done)
		i := sort.Search(len(k.parts), func(i int) bool { return k.parts[i].offset+k.parts[i].size > at })
		if i == len(k.parts) || k.parts[i].offset > at {
			return done, io.EOF
		}
		part := k.parts[i]
		want := min(int64(len(p)-done), part.offset+part.size-at)
		n, err := part.file.ReadAt(p[done:done+int(want)], at-part.offset)
		done += n
		if err != nil {
			return done, noEOF(err)
		}
	}
	return done, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (k *keptContent) Close() error {
	for _, f := range k.files {
		f.Close()
	}
	return nil
}
