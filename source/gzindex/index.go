package gzindex

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

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

// window is where the history a decoder needs at a block boundary is kept
// in the index's windows: the last min(32 KiB, bytes decoded in the
// member) bytes before it, deflated when that makes them smaller.
type window struct {
	off      int64  // in the windows
	size     int    // of what is stored there
	sum      uint32 // CRC32 (IEEE) of what is stored there
	deflated bool
}

// Index is where a gzip stream can be entered. Its checkpoints are in
// order, the first at the start of the first member.
type Index struct {
	Checkpoints []Checkpoint
	Size        int64 // of the uncompressed stream
	Compressed  int64 // of the compressed stream it indexes
	// WindowBytes is how many bytes the windows of the checkpoints take,
	// wherever they are kept: Open reads a window from Windows when a
	// read enters the stream at its checkpoint.
	WindowBytes int64
	// Windows holds the windows: the Indexer's own, unless
	// Options.Windows took them, or what those were written to once the
	// index was unmarshaled. Each window is checked against its checksum
	// as it is read.
	Windows io.ReaderAt
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
	if idx.Size < 0 || idx.Compressed < 0 || idx.WindowBytes < 0 {
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
	case cp.MemberStart && (cp.Bit != 0 || cp.window != window{}):
		return fmt.Errorf("a member start with a bit offset or a window")
	case !cp.MemberStart && !cp.window.deflated && cp.window.size != windowLen(cp.Uncompressed, memberOut):
		return fmt.Errorf("a window of %d bytes, not %d", cp.window.size, windowLen(cp.Uncompressed, memberOut))
	case !cp.MemberStart && cp.window.deflated && (cp.window.size == 0 || cp.window.size >= windowLen(cp.Uncompressed, memberOut)):
		return fmt.Errorf("a deflated window of %d bytes, empty or no smaller than the window", cp.window.size)
	case cp.window.off < 0 || cp.window.off > idx.WindowBytes-int64(cp.window.size):
		return fmt.Errorf("a window at %d of %d bytes, outside the %d bytes of windows", cp.window.off, cp.window.size, idx.WindowBytes)
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

// pack returns what to store of the window w, valid until the next pack,
// and whether it is deflated.
func (p *packer) pack(w []byte) ([]byte, bool) {
	p.buf.Reset()
	if err := flate.StatelessDeflate(&p.buf, w, true, nil); err != nil || p.buf.Len() >= len(w) {
		return w, false
	}
	return p.buf.Bytes(), true
}

// errWindowSum is what reading a window whose bytes do not match its
// checksum fails with.
var errWindowSum = errors.New("its window does not match its checksum")

// readWindow reads the window of cp, n bytes once inflated, from the
// windows, checking it against its checksum.
func (idx *Index) readWindow(cp Checkpoint, n int) ([]byte, error) {
	if idx.Windows == nil {
		return nil, errors.New("no windows to read its window from")
	}
	stored := make([]byte, cp.window.size)
	if got, err := idx.Windows.ReadAt(stored, cp.window.off); got < len(stored) {
		return nil, fmt.Errorf("reading its window: %w", shortRead(err))
	}
	if crc32.ChecksumIEEE(stored) != cp.window.sum {
		return nil, errWindowSum
	}
	if !cp.window.deflated {
		return stored, nil
	}
	return inflateWindow(stored, n)
}

// shortRead is the error of a read that got fewer bytes than it asked
// for: err, or io.ErrUnexpectedEOF when the windows end first.
func shortRead(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// inflateWindow inflates a deflated window, failing unless it gives exactly n bytes.
func inflateWindow(deflated []byte, n int) ([]byte, error) {
	r := bytes.NewReader(deflated)
	fr := flate.NewReader(r)
	defer fr.Close()
	w := make([]byte, n+1)
	got, err := io.ReadFull(fr, w)
	if got != n || err != io.ErrUnexpectedEOF || r.Len() != 0 {
		return nil, fmt.Errorf("a deflated window that does not inflate to %d bytes", n)
	}
	return w[:n], nil
}
