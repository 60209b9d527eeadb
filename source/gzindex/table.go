package gzindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/source"
)

// ErrNoTable is what ReadTable fails with on a gzip stream that does not
// end with a member table, one that a Writer did not write.
var ErrNoTable = errors.New("no gzip member table")

const (
	tableMagic   = "ocitargz"
	tableVersion = 1

	// entrySize is the bytes of a table entry: a member's compressed and
	// uncompressed sizes, each a little-endian uint32.
	entrySize = 8
	// chunkEntries is how many entries one table member holds: its extra
	// field, a 16-bit length, holds a 4-byte subfield header and the entries.
	chunkEntries = (0xffff - 4) / entrySize
	// maxTableEntries bounds the members of a table, so that what ReadTable
	// reads and allocates is bounded (8 MiB of table).
	maxTableEntries = 1 << 20

	// emptyMemberSize is the bytes of an empty member with an extra
	// field, around the field's subfield: header, XLEN, subfield header,
	// empty deflate data, trailer.
	emptyMemberSize = headerSize + 2 + 4 + len(emptyDeflate) + trailerSize
	footerDataSize  = len(tableMagic) + 4 + 4 + 8
	footerSize      = emptyMemberSize + footerDataSize
	// minMemberSize is the fewest bytes of a member of data.
	minMemberSize = headerSize + len(emptyDeflate) + trailerSize
)

// emptyDeflate is a final fixed-Huffman block holding only its end code.
const emptyDeflate = "\x03\x00"

// encodeTable is the table of the members, then its footer.
func encodeTable(members []memberSize) []byte {
	var b []byte
	count := len(members)
	for len(members) > 0 {
		n := min(len(members), chunkEntries)
		data := make([]byte, 0, n*entrySize)
		for _, m := range members[:n] {
			data = binary.LittleEndian.AppendUint32(data, m.compressed)
			data = binary.LittleEndian.AppendUint32(data, m.uncompressed)
		}
		b = appendExtraMember(b, 'o', 't', data)
		members = members[n:]
	}
	return appendExtraMember(b, 'o', 'f', footerData(len(b), count))
}

// tableSize is the bytes of the table members of count entries.
func tableSize(count int) int {
	chunks := (count + chunkEntries - 1) / chunkEntries
	return chunks*emptyMemberSize + count*entrySize
}

// footerData says what ReadTable needs to find the table: the magic, the
// version, the number of entries and the bytes of the table members.
func footerData(tableLen, count int) []byte {
	b := []byte(tableMagic)
	b = binary.LittleEndian.AppendUint32(b, tableVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(count))
	return binary.LittleEndian.AppendUint64(b, uint64(tableLen))
}

// appendExtraMember appends an empty member whose extra field holds one
// subfield, si1 si2, of data.
func appendExtraMember(b []byte, si1, si2 byte, data []byte) []byte {
	b = append(b, memberHeader...)
	b[len(b)-headerSize+3] = flagExtra
	b = binary.LittleEndian.AppendUint16(b, uint16(4+len(data)))
	b = append(b, si1, si2)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	b = append(b, data...)
	b = append(b, emptyDeflate...)
	return append(b, make([]byte, trailerSize)...)
}

// ReadTable reads the member table a Writer wrote at the end of src, with
// one read of its footer and one of the table, and returns the index of
// the members it lists. A stream without one gives an error wrapping
// ErrNoTable; a table that does not add up to src, one wrapping
// errkind.ErrInvalidMetadata.
func ReadTable(src source.Source) (*Index, error) {
	idx, err := readTable(src)
	if err != nil && !errors.Is(err, ErrNoTable) {
		return nil, fmt.Errorf("%s: %w: gzip member table: %w", src.Name(), errkind.ErrInvalidMetadata, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	return idx, nil
}

func readTable(src source.Source) (*Index, error) {
	size := src.Size()
	if size < int64(footerSize) {
		return nil, ErrNoTable
	}
	foot := make([]byte, footerSize)
	if _, err := src.ReadAt(foot, size-int64(footerSize)); err != nil {
		return nil, fmt.Errorf("reading its footer: %w", err)
	}
	count, tableLen, err := parseFooter(foot)
	if err != nil {
		return nil, err
	}
	if tableLen > size-int64(footerSize) {
		return nil, fmt.Errorf("a table of %d bytes in %d bytes", tableLen, size)
	}
	table := make([]byte, tableLen)
	if _, err := src.ReadAt(table, size-int64(footerSize)-tableLen); err != nil {
		return nil, fmt.Errorf("reading it: %w", err)
	}
	members, err := parseTable(table, count)
	if err != nil {
		return nil, err
	}
	return membersIndex(members, size, size-int64(footerSize)-tableLen)
}

// parseFooter checks that foot is the footer member of a table and
// returns its number of entries and the bytes of its table members.
func parseFooter(foot []byte) (int, int64, error) {
	data := foot[emptyMemberSize-len(emptyDeflate)-trailerSize:][:footerDataSize]
	if !bytes.HasPrefix(data, []byte(tableMagic)) {
		return 0, 0, ErrNoTable
	}
	if v := binary.LittleEndian.Uint32(data[len(tableMagic):]); v != tableVersion {
		return 0, 0, fmt.Errorf("version %d, only %d is known", v, tableVersion)
	}
	count := binary.LittleEndian.Uint32(data[len(tableMagic)+4:])
	tableLen := binary.LittleEndian.Uint64(data[len(tableMagic)+8:])
	if count > maxTableEntries {
		return 0, 0, fmt.Errorf("%d members, more than %d", count, maxTableEntries)
	}
	if tableLen != uint64(tableSize(int(count))) {
		return 0, 0, fmt.Errorf("%d entries in %d bytes", count, tableLen)
	}
	if !bytes.Equal(foot, appendExtraMember(nil, 'o', 'f', data)) {
		return 0, 0, errors.New("a malformed footer member")
	}
	return int(count), int64(tableLen), nil
}

// parseTable reads the count entries of the table members in table, which
// must be exactly as encodeTable lays them out.
func parseTable(table []byte, count int) ([]memberSize, error) {
	members := make([]memberSize, 0, count)
	for b := table; len(members) < count; {
		n := min(count-len(members), chunkEntries)
		data := b[headerSize+2+4:][:n*entrySize]
		for e := data; len(e) > 0; e = e[entrySize:] {
			members = append(members, memberSize{binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])})
		}
		b = b[emptyMemberSize+len(data):]
	}
	if !bytes.Equal(encodeTable(members)[:len(table)], table) {
		return nil, errors.New("malformed table members")
	}
	return members, nil
}

// membersIndex is the index of members laid out from the start of a
// stream of size bytes, whose table starts at tableStart.
func membersIndex(members []memberSize, size, tableStart int64) (*Index, error) {
	idx := &Index{Checkpoints: make([]Checkpoint, 0, len(members)), Compressed: size}
	var in int64
	for i, m := range members {
		if m.compressed < uint32(minMemberSize) || m.uncompressed == 0 {
			return nil, fmt.Errorf("member %d: %d bytes from %d compressed: too small", i, m.uncompressed, m.compressed)
		}
		idx.Checkpoints = append(idx.Checkpoints, Checkpoint{Uncompressed: idx.Size, Compressed: in, MemberStart: true})
		in += int64(m.compressed)
		idx.Size += int64(m.uncompressed)
	}
	if in != tableStart {
		return nil, fmt.Errorf("members of %d compressed bytes in all, before a table at %d", in, tableStart)
	}
	return idx, nil
}
