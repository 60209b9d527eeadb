package gzindex

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/flate"
	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/source"
)

// windowSize is how far back deflate reaches: the history a decoder needs
// to enter a member at a block boundary.
const windowSize = 32 << 10

// Checkpoint is a point at which a decoder can enter a gzip stream: the
// start of a member, or the end of a deflate block inside one.
type Checkpoint struct {
	Uncompressed int64 // offset in the uncompressed stream of the first byte decoded from here
	Compressed   int64 // offset in the compressed stream of the member header, or of the byte holding the next block's first bit
	Bit          uint8 // bits of that byte the block before used, 0 to 7
	MemberStart  bool  // Compressed is the start of a member, which needs no window
	window       window
}

// window is the history a decoder needs at a block boundary, the last
// min(32 KiB, bytes decoded in the member) bytes before it, kept deflated
// when that makes it smaller.
type window struct {
	data     []byte
	deflated bool
}

// Index is where a gzip stream can be entered. Its checkpoints are in
// order, the first at the start of the first member.
type Index struct {
	Checkpoints []Checkpoint
	Size        int64 // of the uncompressed stream
	Compressed  int64 // of the compressed stream it indexes
}

// Validate checks that idx is consistent and was made for a compressed
// stream of compressedSize bytes, as an index read from a cache must be
// before it is used. It does not inflate the windows, which
// UnmarshalBinary checks.
func (idx *Index) Validate(compressedSize int64) error {
	if idx.Compressed != compressedSize {
		return fmt.Errorf("%w: gzip index made for %d compressed bytes, the stream has %d", errkind.ErrInvalidMetadata, idx.Compressed, compressedSize)
	}
	if err := idx.check(); err != nil {
		return fmt.Errorf("%w: gzip index: %w", errkind.ErrInvalidMetadata, err)
	}
	return nil
}

// check checks the checkpoints against each other and the sizes.
func (idx *Index) check() error {
	if idx.Size < 0 || idx.Compressed < 0 {
		return fmt.Errorf("negative size")
	}
	if len(idx.Checkpoints) == 0 {
		if idx.Size != 0 {
			return fmt.Errorf("no checkpoint for %d bytes", idx.Size)
		}
		return nil
	}
	if first := idx.Checkpoints[0]; first.Uncompressed != 0 || first.Compressed != 0 || !first.MemberStart {
		return fmt.Errorf("the first checkpoint is not the start of the stream")
	}
	var memberOut int64
	for i := range idx.Checkpoints {
		if err := idx.checkAt(i, memberOut); err != nil {
			return fmt.Errorf("checkpoint %d: %w", i, err)
		}
		if idx.Checkpoints[i].MemberStart {
			memberOut = idx.Checkpoints[i].Uncompressed
		}
	}
	return nil
}

// checkAt checks checkpoint i, in the member whose data starts at
// uncompressed offset memberOut.
func (idx *Index) checkAt(i int, memberOut int64) error {
	cp := idx.Checkpoints[i]
	switch {
	case cp.Uncompressed > idx.Size:
		return fmt.Errorf("uncompressed offset %d past the end, %d", cp.Uncompressed, idx.Size)
	case cp.Compressed >= idx.Compressed:
		return fmt.Errorf("compressed offset %d outside the %d compressed bytes", cp.Compressed, idx.Compressed)
	case cp.Bit > 7:
		return fmt.Errorf("bit offset %d", cp.Bit)
	case cp.MemberStart && (cp.Bit != 0 || cp.window.data != nil):
		return fmt.Errorf("a member start with a bit offset or a window")
	case !cp.MemberStart && !cp.window.deflated && len(cp.window.data) != windowLen(cp.Uncompressed, memberOut):
		return fmt.Errorf("a window of %d bytes, not %d", len(cp.window.data), windowLen(cp.Uncompressed, memberOut))
	case !cp.MemberStart && cp.window.deflated && len(cp.window.data) >= windowLen(cp.Uncompressed, memberOut):
		return fmt.Errorf("a deflated window of %d bytes, no smaller than the window", len(cp.window.data))
	}
	if i == 0 {
		return nil
	}
	prev := idx.Checkpoints[i-1]
	if cp.Uncompressed <= prev.Uncompressed || cp.Compressed*8+int64(cp.Bit) <= prev.Compressed*8+int64(prev.Bit) {
		return fmt.Errorf("offsets %d, %d not after those of the checkpoint before, %d, %d",
			cp.Uncompressed, cp.Compressed, prev.Uncompressed, prev.Compressed)
	}
	return nil
}

// windowLen is the length of the window at uncompressed offset off in a
// member whose data starts at memberOut.
func windowLen(off, memberOut int64) int {
	return int(min(windowSize, off-memberOut))
}

// spans are the stretches of the uncompressed stream between checkpoints.
func (idx *Index) spans() []source.Span {
	spans := make([]source.Span, len(idx.Checkpoints))
	for i, cp := range idx.Checkpoints {
		end := idx.Size
		if i+1 < len(idx.Checkpoints) {
			end = idx.Checkpoints[i+1].Uncompressed
		}
		spans[i] = source.Span{Offset: cp.Uncompressed, Size: end - cp.Uncompressed}
	}
	return spans
}

// packer deflates windows, reusing its buffer.
type packer struct {
	buf bytes.Buffer
}

func (p *packer) pack(w []byte) window {
	p.buf.Reset()
	if err := flate.StatelessDeflate(&p.buf, w, true, nil); err != nil || p.buf.Len() >= len(w) {
		return window{data: bytes.Clone(w)}
	}
	return window{data: bytes.Clone(p.buf.Bytes()), deflated: true}
}

// unpacker inflates windows, reusing its decoder.
type unpacker struct {
	fr io.ReadCloser
}

// unpack appends to dst the n bytes of w, failing unless w holds exactly n.
func (u *unpacker) unpack(dst []byte, w window, n int) ([]byte, error) {
	if !w.deflated {
		if len(w.data) != n {
			return dst, fmt.Errorf("a window of %d bytes, not %d", len(w.data), n)
		}
		return append(dst, w.data...), nil
	}
	r := bytes.NewReader(w.data)
	if u.fr == nil {
		u.fr = flate.NewReader(r)
	} else {
		u.fr.(flate.Resetter).Reset(r, nil)
	}
	start := len(dst)
	dst = slices.Grow(dst, n+1)[:start+n+1]
	got, err := io.ReadFull(u.fr, dst[start:])
	if got != n || err != io.ErrUnexpectedEOF || r.Len() != 0 {
		return dst[:start], fmt.Errorf("a deflated window that does not inflate to %d bytes", n)
	}
	return dst[:start+n], nil
}
