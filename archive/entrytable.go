package archive

import (
	"archive/tar"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ocitar/ocitar/internal/tarname"
	digest "github.com/opencontainers/go-digest"
)

// entryTableMagic starts an entry table; the last byte is its version.
const entryTableMagic = "ocitar-entries\x00\x01"

// storedEntry is an entry of a tar whose index is kept for the next open:
// where its data is in the uncompressed tar and, when its content is kept
// apart (in a cache), the digest of that content.
type storedEntry struct {
	Entry
	Digest digest.Digest
}

// encodeEntries writes the entries of a tar of size bytes, in the order they
// were indexed, so that decodeEntries gives them back.
func encodeEntries(entries []storedEntry, size int64) []byte {
	b := append([]byte(nil), entryTableMagic...)
	b = binary.AppendUvarint(b, uint64(size))
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = appendString(b, e.Name)
		b = append(b, e.Type)
		b = appendString(b, e.Linkname)
		b = binary.AppendUvarint(b, uint64(e.Offset))
		b = binary.AppendUvarint(b, uint64(e.Size))
		b = appendString(b, string(e.Digest))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// errBadEntryTable is what a kept entry table that cannot be trusted gives.
var errBadEntryTable = errors.New("bad entry table")

// decodeEntries reads an entry table and the size of the tar it was kept
// for. The table is data, not trust: every entry must lie inside the tar and
// carry a name the index would have given it.
func decodeEntries(data []byte, opts Options) ([]storedEntry, int64, error) {
	d := &tableDecoder{data: data}
	if string(d.bytes(len(entryTableMagic))) != entryTableMagic {
		return nil, 0, fmt.Errorf("%w: no table, or another version", errBadEntryTable)
	}
	size := int64(d.uvarint())
	count := d.uvarint()
	if count > uint64(opts.maxEntries()) || count > uint64(len(data)) {
		return nil, 0, fmt.Errorf("%w: %d entries", errBadEntryTable, count)
	}
	entries := make([]storedEntry, 0, count)
	for range count {
		e := d.entry()
		if d.err != nil {
			break
		}
		if err := checkStoredEntry(e, size); err != nil {
			return nil, 0, err
		}
		entries = append(entries, e)
	}
	if d.err == nil && len(d.data) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the last entry", errBadEntryTable, len(d.data))
	}
	return entries, size, d.err
}

func checkStoredEntry(e storedEntry, size int64) error {
	if name, err := tarname.Clean(e.Name); err != nil || name != e.Name || name == "." {
		return fmt.Errorf("%w: entry name %q", errBadEntryTable, e.Name)
	}
	if e.Offset < 0 || e.Size < 0 || e.Offset > size || e.Size > size-e.Offset {
		return fmt.Errorf("%w: %s: %d bytes at %d, outside the tar of %d bytes", errBadEntryTable, e.Name, e.Size, e.Offset, size)
	}
	if e.Type != tar.TypeReg && (e.Offset != 0 || e.Size != 0 || e.Digest != "") {
		return fmt.Errorf("%w: %s: data for an entry of type %q", errBadEntryTable, e.Name, e.Type)
	}
	if e.Digest != "" && e.Digest.Validate() != nil {
		return fmt.Errorf("%w: %s: digest %q", errBadEntryTable, e.Name, e.Digest)
	}
	return nil
}

// tableDecoder reads the fields of an entry table, remembering the first error.
type tableDecoder struct {
	data []byte
	err  error
}

func (d *tableDecoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.data) {
		d.fail()
		return nil
	}
	b := d.data[:n]
	d.data = d.data[n:]
	return b
}

func (d *tableDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data)
	if n <= 0 || v > 1<<62 {
		d.fail()
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *tableDecoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.data)) {
		d.fail()
		return ""
	}
	return string(d.bytes(int(n)))
}

func (d *tableDecoder) entry() storedEntry {
	var e storedEntry
	e.Name = d.string()
	if t := d.bytes(1); t != nil {
		e.Type = t[0]
	}
	e.Linkname = d.string()
	e.Offset = int64(d.uvarint())
	e.Size = int64(d.uvarint())
	e.Digest = digest.Digest(d.string())
	return e
}

func (d *tableDecoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: cut short", errBadEntryTable)
	}
}

// indexOfEntries rebuilds the index the entries were taken from.
func indexOfEntries(entries []storedEntry) (*tarIndex, error) {
	idx := &tarIndex{entries: map[string]*Entry{}, duplicates: map[string]bool{}}
	for i := range entries {
		if err := idx.add(&entries[i].Entry); err != nil {
			return nil, err
		}
	}
	return idx, nil
}
