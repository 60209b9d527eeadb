package gzindex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/ocitar/ocitar/internal/errkind"
)

const (
	indexMagic   = "ocitargzindex"
	indexVersion = 2

	flagMember   = 1 << 0
	flagDeflated = 1 << 1
	bitShift     = 2

	// minEncoded is the fewest bytes a checkpoint takes: two offsets and its flags.
	minEncoded = 3
)

// MarshalBinary encodes idx but its windows, which stay where
// idx.Windows reads them: the magic "ocitargzindex", a version byte (2),
// the uncompressed and compressed sizes, the bytes of windows and the
// number of checkpoints as uvarints, then for each checkpoint the uvarint
// differences of its uncompressed and compressed offsets from the
// checkpoint before, a flags byte (bit 0 member start, bit 1 window
// deflated, bits 2-4 the bit offset) and, unless it starts a member, where
// its window is in the windows (offset and length as uvarints) and the
// CRC32 (IEEE, little-endian) of the window's bytes; last the CRC32 of all
// before it.
func (idx *Index) MarshalBinary() ([]byte, error) {
	b := append([]byte(indexMagic), indexVersion)
	b = binary.AppendUvarint(b, uint64(idx.Size))
	b = binary.AppendUvarint(b, uint64(idx.Compressed))
	b = binary.AppendUvarint(b, uint64(idx.WindowBytes))
	b = binary.AppendUvarint(b, uint64(len(idx.Checkpoints)))
	var prev Checkpoint
	for _, cp := range idx.Checkpoints {
		b = binary.AppendUvarint(b, uint64(cp.Uncompressed-prev.Uncompressed))
		b = binary.AppendUvarint(b, uint64(cp.Compressed-prev.Compressed))
		b = append(b, encodeFlags(cp))
		if !cp.MemberStart {
			b = binary.AppendUvarint(b, uint64(cp.window.off))
			b = binary.AppendUvarint(b, uint64(cp.window.size))
			b = binary.LittleEndian.AppendUint32(b, cp.window.sum)
		}
		prev = cp
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

func encodeFlags(cp Checkpoint) byte {
	f := cp.Bit << bitShift
	if cp.MemberStart {
		f |= flagMember
	}
	if cp.window.deflated {
		f |= flagDeflated
	}
	return f
}

// UnmarshalBinary decodes what MarshalBinary encoded, checking all of it
// as data that may have been damaged or forged: the windows it locates
// only once they are read, through the Windows the caller sets. An index
// of another version is refused.
func (idx *Index) UnmarshalBinary(b []byte) error {
	got, err := unmarshal(b)
	if err != nil {
		return fmt.Errorf("%w: gzip index: %w", errkind.ErrInvalidMetadata, err)
	}
	*idx = *got
	return nil
}

func unmarshal(b []byte) (*Index, error) {
	if len(b) < len(indexMagic)+1+4 || string(b[:len(indexMagic)]) != indexMagic {
		return nil, errors.New("no index magic")
	}
	if v := b[len(indexMagic)]; v != indexVersion {
		return nil, fmt.Errorf("version %d, only %d is known", v, indexVersion)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("wrong checksum")
	}
	d := decoder{b: body[len(indexMagic)+1:]}
	idx := &Index{Size: d.offset(0), Compressed: d.offset(0), WindowBytes: d.offset(0)}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minEncoded) {
		return nil, fmt.Errorf("%d checkpoints in %d bytes", n, len(d.b))
	}
	idx.Checkpoints = make([]Checkpoint, 0, n)
	var prev Checkpoint
	for range n {
		cp := d.checkpoint(prev)
		if d.err != nil {
			break
		}
		idx.Checkpoints = append(idx.Checkpoints, cp)
		prev = cp
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the checkpoints", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := idx.check(); err != nil {
		return nil, err
	}
	return idx, nil
}

// decoder reads the fields of an encoded index, keeping the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or overlong number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// maxOffset bounds the sizes and offsets of an index, so that sums of them fit an int64.
const maxOffset = 1 << 62

// offset reads a uvarint that, added to from, gives an offset up to maxOffset.
func (d *decoder) offset(from int64) int64 {
	v := d.uvarint()
	if v > maxOffset-uint64(from) {
		d.err = fmt.Errorf("offset %d + %d too large", from, v)
		return 0
	}
	return from + int64(v)
}

func (d *decoder) bytes(n int) []byte {
	if d.err == nil && n > len(d.b) {
		d.err = fmt.Errorf("%d bytes wanted, %d left", n, len(d.b))
	}
	if d.err != nil {
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// window reads where a window is: its offset, its length, up to a window's, and its checksum.
func (d *decoder) window(deflated bool) window {
	w := window{off: d.offset(0), deflated: deflated}
	if n := d.uvarint(); n > windowSize {
		d.err = fmt.Errorf("a window of %d bytes", n)
	} else {
		w.size = int(n)
	}
	if sum := d.bytes(4); sum != nil {
		w.sum = binary.LittleEndian.Uint32(sum)
	}
	return w
}

// checkpoint reads the checkpoint after prev.
func (d *decoder) checkpoint(prev Checkpoint) Checkpoint {
	cp := Checkpoint{Uncompressed: d.offset(prev.Uncompressed), Compressed: d.offset(prev.Compressed)}
	f := d.bytes(1)
	if d.err != nil {
		return cp
	}
	cp.MemberStart = f[0]&flagMember != 0
	if f[0]>>(bitShift+3) != 0 || cp.MemberStart && f[0]&flagDeflated != 0 {
		d.err = fmt.Errorf("flags %#x", f[0])
	}
	cp.Bit = f[0] >> bitShift
	if !cp.MemberStart {
		cp.window = d.window(f[0]&flagDeflated != 0)
	}
	return cp
}
