package archive

import (
	"fmt"
	"strings"
)

// Tar header fields of the USTAR format, as offsets into a 512-byte block.
const (
	hdrName     = 0
	hdrMode     = 100
	hdrUID      = 108
	hdrGID      = 116
	hdrSize     = 124
	hdrMtime    = 136
	hdrChecksum = 148
	hdrType     = 156
	hdrMagic    = 257
	hdrDevMajor = 329
	hdrDevMinor = 337
	hdrPrefix   = 345
	maxOctal11  = 1<<33 - 1 // the largest number 11 octal digits hold: 8 GiB - 1
)

// ustarHeader encodes one tar header block: owner root, no user or group names.
// Its length never depends on the size: sizes of 8 GiB and more use the
// base-256 form GNU tar introduced, in the same 12 bytes, so a header written
// before a streamed blob can be rewritten in place once its size is known.
func ustarHeader(name string, typeflag byte, mode, size, mtime int64) ([blockSize]byte, error) {
	var b [blockSize]byte
	prefix, base, err := splitUSTARName(name)
	if err != nil {
		return b, err
	}
	copy(b[hdrName:hdrName+100], base)
	putOctal(b[hdrMode:hdrMode+8], mode)
	putOctal(b[hdrUID:hdrUID+8], 0)
	putOctal(b[hdrGID:hdrGID+8], 0)
	putNumeric(b[hdrSize:hdrSize+12], size)
	putNumeric(b[hdrMtime:hdrMtime+12], max(mtime, 0))
	b[hdrType] = typeflag
	copy(b[hdrMagic:], "ustar\x0000")
	putOctal(b[hdrDevMajor:hdrDevMajor+8], 0)
	putOctal(b[hdrDevMinor:hdrDevMinor+8], 0)
	copy(b[hdrPrefix:hdrPrefix+155], prefix)
	copy(b[hdrChecksum:hdrChecksum+8], "        ")
	sum := int64(0)
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[hdrChecksum:hdrChecksum+8], fmt.Sprintf("%06o\x00 ", sum))
	return b, nil
}

// splitUSTARName splits a name into USTAR's prefix (155 bytes) and name (100 bytes) fields.
func splitUSTARName(name string) (prefix, base string, err error) {
	if len(name) <= 100 {
		return "", name, nil
	}
	for i := strings.IndexByte(name, '/'); i >= 0; {
		if i <= 155 && len(name)-i-1 <= 100 {
			return name[:i], name[i+1:], nil
		}
		next := strings.IndexByte(name[i+1:], '/')
		if next < 0 {
			break
		}
		i += next + 1
	}
	return "", "", fmt.Errorf("entry name %q does not fit a tar header", name)
}

func putOctal(b []byte, v int64) {
	copy(b, fmt.Sprintf("%0*o\x00", len(b)-1, v))
}

// putNumeric writes v in octal, or in base-256 when octal does not fit a 12-byte field.
func putNumeric(b []byte, v int64) {
	if v <= maxOctal11 {
		putOctal(b, v)
		return
	}
	clear(b)
	for i := len(b) - 1; i > 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	b[0] = 0x80
}
