package archive

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/ocitar/ocitar/source"
)

// remoteTarPass indexes a tar read by requests (a source.Streamer), and
// keeps its entries and the files its layout was read from, so that the
// next open of the same object reads neither: a warm start costs the one
// request that opening the object makes.
type remoteTarPass struct{}

func (remoteTarPass) key(src source.Source) string { return src.Identity() + "-tar" }

func (remoteTarPass) build(src source.Source, opts Options) (*Reader, []byte, error) {
	var entries []storedEntry
	cr := &countingReader{SectionReader: io.NewSectionReader(src, 0, src.Size())}
	idx, err := indexEntries(cr, src.Size(), opts, func(e *Entry, _ io.Reader) error {
		entries = append(entries, storedEntry{Entry: *e})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	files := &heldFiles{tarFiles: tarFiles{indexedNames: indexedNames{idx}, ra: src}, held: map[string][]byte{}}
	r, err := newFilesReader(files, src.Name(), opts)
	if err != nil {
		return nil, nil, err
	}
	return r, appendHeld(encodeEntries(entries, src.Size()), files.held), nil
}

func (remoteTarPass) reopen(src source.Source, kept []byte, opts Options) (*Reader, error) {
	table, heldPart, err := splitKept(kept)
	if err != nil {
		return nil, err
	}
	entries, size, err := decodeEntries(table, opts)
	if err != nil {
		return nil, err
	}
	if size != src.Size() {
		return nil, fmt.Errorf("%w: entries of a tar of %d bytes, the object holds %d", errBadEntryTable, size, src.Size())
	}
	held, err := decodeHeld(heldPart)
	if err != nil {
		return nil, err
	}
	idx, err := indexOfEntries(entries)
	if err != nil {
		return nil, err
	}
	return newFilesReader(&heldFiles{tarFiles: tarFiles{indexedNames: indexedNames{idx}, ra: src}, held: held}, src.Name(), opts)
}

// heldFiles are the entries of a tar whose files read unverified (index.json,
// manifest.json, docker-save configs) are held: from what an earlier open
// read, or recorded as they are read, during the load of the layout.
type heldFiles struct {
	tarFiles
	held map[string][]byte
}

func (f *heldFiles) readFile(name string, limit int64) ([]byte, error) {
	e, err := f.resolveUnique(name, limit)
	if err != nil {
		return nil, err
	}
	if data, ok := f.held[e.Name]; ok && int64(len(data)) == e.Size {
		return data, nil
	}
	data, err := f.tarFiles.readFile(name, limit)
	if err == nil {
		f.held[e.Name] = data
	}
	return data, err
}

// appendHeld appends the held files to an entry table, with the table's
// length first, so that splitKept finds both.
func appendHeld(table []byte, held map[string][]byte) []byte {
	kept := binary.AppendUvarint(nil, uint64(len(table)))
	kept = append(kept, table...)
	kept = binary.AppendUvarint(kept, uint64(len(held)))
	for _, name := range slices.Sorted(maps.Keys(held)) {
		kept = appendString(appendString(kept, name), string(held[name]))
	}
	return kept
}

func splitKept(kept []byte) (table, held []byte, err error) {
	n, w := binary.Uvarint(kept)
	if w <= 0 || n > uint64(len(kept)-w) {
		return nil, nil, fmt.Errorf("%w: no entry table", errBadEntryTable)
	}
	return kept[w : w+int(n)], kept[w+int(n):], nil
}

// decodeHeld reads what appendHeld wrote after the table; a held file is
// used only when its size is its entry's.
func decodeHeld(data []byte) (map[string][]byte, error) {
	d := &tableDecoder{data: data}
	count := d.uvarint()
	if count > uint64(len(data)) {
		return nil, fmt.Errorf("%w: %d held files", errBadEntryTable, count)
	}
	held := make(map[string][]byte, count)
	for range count {
		name, content := d.string(), d.string()
		held[name] = []byte(content)
	}
	if d.err == nil && len(d.data) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the held files", errBadEntryTable, len(d.data))
	}
	return held, d.err
}
