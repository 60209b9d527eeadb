package zstdseek

import (
	"encoding/binary"
	"fmt"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/source"
)

// The seek table, as facebook/zstd's contrib/seekable_format defines it: a
// skippable frame whose last 9 bytes, the footer, end the file.
const (
	seekableMagic   = 0x8F92EAB1
	seekTableMagic  = 0x184D2A5E
	skippableHeader = 8 // magic and Frame_Size
	footerSize      = 9 // Number_Of_Frames, Seek_Table_Descriptor, Seekable_Magic_Number
	checksumFlag    = 1 << 7
	reservedBits    = 0x7C
	// minFrameSize is the least a frame takes in the file: a skippable
	// frame with no data (a zstd frame takes at least 9).
	minFrameSize = 8
	// maxFrames bounds what a seek table may make ReadSeekTable allocate:
	// 4 TiB in frames of 4 MiB.
	maxFrames = 1 << 20
)

// ReadSeekTable reads the seek table that ends src, with one read of its
// footer and one of the table. It returns ErrNotSeekable when src does not
// end in the seekable format's magic number, and an error wrapping
// errkind.ErrNotArchive for a table that does not describe the file.
func ReadSeekTable(src source.Source) ([]Frame, error) {
	n, desc, err := readFooter(src)
	if err != nil {
		return nil, err
	}
	entrySize := int64(8)
	if desc&checksumFlag != 0 {
		entrySize = 12
	}
	tableSize := skippableHeader + int64(n)*entrySize + footerSize
	if err := checkTableFits(src, n, entrySize, tableSize); err != nil {
		return nil, err
	}
	table := make([]byte, tableSize-footerSize)
	if _, err := src.ReadAt(table, src.Size()-tableSize); err != nil {
		return nil, fmt.Errorf("%s: reading the zstd seek table: %w", src.Name(), err)
	}
	if magic, size := binary.LittleEndian.Uint32(table), binary.LittleEndian.Uint32(table[4:]); magic != seekTableMagic || int64(size) != tableSize-skippableHeader {
		return nil, notArchive(src, "zstd seek table of %d frames does not start a skippable frame of %d bytes", n, tableSize-skippableHeader)
	}
	return parseEntries(src, table[skippableHeader:], n, entrySize)
}

// readFooter returns the number of frames and the descriptor of the seek
// table that ends src.
func readFooter(src source.Source) (uint32, byte, error) {
	if src.Size() < 4 {
		return 0, 0, fmt.Errorf("%s: %w", src.Name(), ErrNotSeekable)
	}
	footer := make([]byte, min(src.Size(), footerSize))
	if _, err := src.ReadAt(footer, src.Size()-int64(len(footer))); err != nil {
		return 0, 0, fmt.Errorf("%s: reading the end of the file: %w", src.Name(), err)
	}
	if binary.LittleEndian.Uint32(footer[len(footer)-4:]) != seekableMagic {
		return 0, 0, fmt.Errorf("%s: %w", src.Name(), ErrNotSeekable)
	}
	if len(footer) < footerSize {
		return 0, 0, notArchive(src, "truncated: a zstd seek table footer in a file of %d bytes", src.Size())
	}
	desc := footer[4]
	if desc&reservedBits != 0 {
		return 0, 0, notArchive(src, "zstd seek table descriptor %#02x sets reserved bits", desc)
	}
	return binary.LittleEndian.Uint32(footer), desc, nil
}

// checkTableFits refuses a table of n entries of entrySize bytes that the
// file cannot hold, before anything of that size is allocated.
func checkTableFits(src source.Source, n uint32, entrySize, tableSize int64) error {
	if tableSize > src.Size() {
		return notArchive(src, "zstd seek table of %d frames takes %d bytes, more than the file's %d", n, tableSize, src.Size())
	}
	if int64(n)*minFrameSize > src.Size()-tableSize {
		return notArchive(src, "zstd seek table lists %d frames, more than the %d bytes before it can hold", n, src.Size()-tableSize)
	}
	if n > maxFrames {
		return fmt.Errorf("%s: %w: zstd seek table lists %d frames, more than the %d ocitar reads", src.Name(), errkind.ErrTooLarge, n, maxFrames)
	}
	return nil
}

// parseEntries turns the n entries of a seek table into frames, which must
// cover the file up to the table exactly.
func parseEntries(src source.Source, entries []byte, n uint32, entrySize int64) ([]Frame, error) {
	frames := make([]Frame, n)
	var coff, uoff int64
	for i := range frames {
		e := entries[int64(i)*entrySize:]
		f := Frame{
			CompressedOffset: coff,
			CompressedSize:   int64(binary.LittleEndian.Uint32(e)),
			Offset:           uoff,
			Size:             int64(binary.LittleEndian.Uint32(e[4:])),
		}
		if f.CompressedSize < minFrameSize {
			return nil, notArchive(src, "zstd seek table: frame %d takes %d bytes, too few for a frame", i, f.CompressedSize)
		}
		if entrySize == 12 {
			f.Checksum, f.HasChecksum = binary.LittleEndian.Uint32(e[8:]), true
		}
		frames[i] = f
		coff += f.CompressedSize
		uoff += f.Size
	}
	if data := src.Size() - (skippableHeader + int64(len(entries)) + footerSize); coff != data {
		return nil, notArchive(src, "zstd seek table: its %d frames take %d bytes, but %d come before it", n, coff, data)
	}
	return frames, nil
}
