package zstdseek

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ocitar/ocitar/internal/errkind"
)

// entryAt is where entry i of the seek table ending b starts, for a table
// with checksums.
func entryAt(b []byte, i int) int {
	n := int(binary.LittleEndian.Uint32(b[len(b)-footerSize:]))
	return len(b) - footerSize - (n-i)*12
}

// setEntry returns b with field (0 compressed size, 1 content size, 2
// checksum) of entry i of its seek table set to v.
func setEntry(b []byte, i, field int, v uint32) []byte {
	out := bytes.Clone(b)
	binary.LittleEndian.PutUint32(out[entryAt(b, i)+4*field:], v)
	return out
}

func entry(b []byte, i, field int) uint32 {
	return binary.LittleEndian.Uint32(b[entryAt(b, i)+4*field:])
}

// setFooter returns b with its footer's frame count and descriptor replaced.
func setFooter(b []byte, n uint32, desc byte) []byte {
	out := bytes.Clone(b)
	binary.LittleEndian.PutUint32(out[len(out)-footerSize:], n)
	out[len(out)-5] = desc
	return out
}

// skippableFrames is n empty skippable frames and a seek table of them
// without checksums.
func skippableFrames(n int) []byte {
	var b []byte
	for range n {
		b = append(b, 0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0)
	}
	b = binary.LittleEndian.AppendUint32(b, seekTableMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(n*8+footerSize))
	for range n {
		b = append(b, 8, 0, 0, 0, 0, 0, 0, 0)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, 0)
	return binary.LittleEndian.AppendUint32(b, seekableMagic)
}

func TestReadSeekTable(t *testing.T) {
	good := seekable(t, testContent(100_000, 5), 30_000, 60_000)
	footer := good[len(good)-footerSize:]
	tableStart := entryAt(good, 0) - skippableHeader
	tests := []struct {
		name       string
		file       []byte
		want       error
		wantFrames int
	}{
		{"written by Writer", good, nil, 3},
		{"of skippable frames", skippableFrames(3), nil, 3},
		{"no frames", skippableFrames(0), nil, 0},
		{"plain zstd", compressFile(t, []byte("plain"), "zstd"), ErrNotSeekable, 0},
		{"shorter than a magic number", []byte{0xb1, 0xea}, ErrNotSeekable, 0},
		{"truncated", good[:len(good)-1], ErrNotSeekable, 0},
		{"a magic number alone", footer[5:], errkind.ErrNotArchive, 0},
		{"a footer alone", footer, errkind.ErrNotArchive, 0},
		{"reserved bits", setFooter(good, 3, checksumFlag|0x04), errkind.ErrNotArchive, 0},
		{"unused bits", setFooter(good, 3, checksumFlag|0x03), nil, 3},
		{"a table larger than the file", setFooter(good, 1<<30, checksumFlag), errkind.ErrNotArchive, 0},
		{"more frames than the file holds", setFooter(good, uint32(len(good)-17)/12, checksumFlag), errkind.ErrNotArchive, 0},
		{"the most frames read", skippableFrames(maxFrames), nil, maxFrames},
		{"more frames than read", skippableFrames(maxFrames + 1), errkind.ErrTooLarge, 0},
		{"sizes that do not add up", setEntry(good, 1, 0, entry(good, 1, 0)+1), errkind.ErrNotArchive, 0},
		{"a frame of no bytes", setEntry(good, 1, 0, 0), errkind.ErrNotArchive, 0},
		{"data before the frames", append([]byte{0}, good...), errkind.ErrNotArchive, 0},
		{"not a skippable frame", patch(good, tableStart, 0x51), errkind.ErrNotArchive, 0},
		{"a skippable frame of another size", patch(good, tableStart+4, good[tableStart+4]+1), errkind.ErrNotArchive, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, err := ReadSeekTable(newMem("test.tar.zst", tt.file))
			if !errors.Is(err, tt.want) || len(frames) != tt.wantFrames {
				t.Fatalf("%d frames, %v; want %d, %v", len(frames), err, tt.wantFrames, tt.want)
			}
		})
	}
}
