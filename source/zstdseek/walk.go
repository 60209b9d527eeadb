package zstdseek

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/zstd"
	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/source"
)

const (
	frameMagic = 0xFD2FB528
	// maxFrameHeader is a frame header with every field: magic, descriptor,
	// window descriptor, a 4-byte dictionary ID and an 8-byte content size.
	maxFrameHeader  = 4 + 1 + 1 + 4 + 8
	blockHeaderSize = 3
	maxBlockSize    = 128 << 10
	checksumSize    = 4
	// windowSize is how much of the file walking its headers reads at once.
	windowSize = 1 << 20
)

// WalkFrames finds the frames of the zstd stream src (zstd outputs put end
// to end, say) from their headers and those of their blocks, without
// decoding them, skipping skippable frames. It stops at the header of the
// first frame not worth entering: one that does not give the size of its
// content (ErrNoContentSize: only decoding tells it, see MeasureFrames),
// or that holds more than maxSpan bytes (ErrLargeFrame). Neither reads the
// blocks of that frame, so a stream of one large frame costs one read.
func WalkFrames(src source.Source, maxSpan int64) ([]Frame, error) {
	frames, err := walk(src, func(f Frame) error {
		switch {
		case f.Size < 0:
			return fmt.Errorf("%s: frame at offset %d: %w", src.Name(), f.CompressedOffset, ErrNoContentSize)
		case f.Size > maxSpan:
			return fmt.Errorf("%s: frame at offset %d holds %d bytes: %w", src.Name(), f.CompressedOffset, f.Size, ErrLargeFrame)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	place(frames)
	return frames, nil
}

// MeasureFrames is WalkFrames that decodes, without keeping it, the content
// of each frame whose header does not give its size, as pzstd writes them:
// one pass over those frames, stopped once the content exceeds
// opts.MaxRatio times the size of src.
func MeasureFrames(src source.Source, opts Options) ([]Frame, error) {
	frames, err := walk(src, func(Frame) error { return nil })
	if err != nil {
		return nil, err
	}
	dec, err := newDecoder()
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	c := &content{limit: opts.maxContent(src.Size())}
	for i := range frames {
		before := c.n
		if frames[i].Size >= 0 {
			err = c.add(frames[i].Size)
		} else {
			err = measure(dec, src, frames[i], c)
			frames[i].Size = c.n - before
		}
		if errors.Is(err, errTooMuch) {
			return nil, fmt.Errorf("%s: %w: zstd frames hold more than %d times the file's %d bytes, a decompression bomb? (limit: Options.MaxRatio)", src.Name(), errkind.ErrTooLarge, opts.maxRatio(), src.Size())
		}
		if err != nil {
			return nil, err
		}
	}
	place(frames)
	return frames, nil
}

// measure decodes frame f into c.
func measure(dec *zstd.Decoder, src source.Source, f Frame, c *content) error {
	in := recorder{r: io.NewSectionReader(src, f.CompressedOffset, f.CompressedSize)}
	err := dec.Reset(&in)
	if err == nil {
		_, err = io.Copy(c, dec)
	}
	switch {
	case in.err != nil:
		return fmt.Errorf("%s: reading the zstd frame at offset %d: %w", src.Name(), f.CompressedOffset, in.err)
	case err != nil && !errors.Is(err, errTooMuch):
		return notArchive(src, "zstd frame of %d bytes at offset %d: it does not decode: %v", f.CompressedSize, f.CompressedOffset, err)
	}
	return err
}

var errTooMuch = errors.New("more content than the limit")

// content counts the content of a stream, failing past limit.
type content struct {
	n, limit int64
}

func (c *content) Write(p []byte) (int, error) {
	if err := c.add(int64(len(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *content) add(n int64) error {
	if n > c.limit-c.n {
		return errTooMuch
	}
	c.n += n
	return nil
}

// place gives each frame the offset of its content.
func place(frames []Frame) {
	var off int64
	for i := range frames {
		frames[i].Offset = off
		off += frames[i].Size
	}
}

// walk returns the frames of src, of Size -1 where the header does not give
// it. Each frame's header is passed to check before its blocks are read; an
// error of check ends the walk.
func walk(src source.Source, check func(Frame) error) ([]Frame, error) {
	w := &window{src: src, buf: make([]byte, min(windowSize, src.Size()))}
	var frames []Frame
	for off := int64(0); off < src.Size(); {
		f, next, err := walkFrame(w, off, check)
		if err != nil {
			return nil, err
		}
		if f.CompressedSize > 0 {
			frames = append(frames, f)
		}
		off = next
	}
	return frames, nil
}

// walkFrame reads the frame at off: a zstd frame, or a skippable one,
// returned as a Frame of no size. next is where the frame after it starts.
func walkFrame(w *window, off int64, check func(Frame) error) (f Frame, next int64, err error) {
	b, err := w.at(off, int(min(maxFrameHeader, w.src.Size()-off)))
	if err != nil {
		return Frame{}, 0, err
	}
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		return Frame{}, 0, notArchive(w.src, "no zstd frame at offset %d: %v", off, err)
	}
	if h.Skippable {
		next = off + int64(h.HeaderSize) + int64(h.SkippableSize)
		if next > w.src.Size() {
			return Frame{}, 0, notArchive(w.src, "truncated: the skippable frame at offset %d runs %d bytes past the end of the file", off, next-w.src.Size())
		}
		return Frame{}, next, nil
	}
	if h.DictionaryID != 0 {
		return Frame{}, 0, notArchive(w.src, "zstd frame at offset %d needs dictionary %d", off, h.DictionaryID)
	}
	if h.FrameContentSize > math.MaxInt64 {
		return Frame{}, 0, notArchive(w.src, "zstd frame at offset %d claims %d bytes of content", off, h.FrameContentSize)
	}
	f = Frame{CompressedOffset: off, Size: -1}
	if h.HasFCS {
		f.Size = int64(h.FrameContentSize)
	}
	if err := check(f); err != nil {
		return Frame{}, 0, err
	}
	end, err := blocksEnd(w, off+int64(h.HeaderSize))
	if err != nil {
		return Frame{}, 0, fmt.Errorf("%w, in the zstd frame at offset %d", err, off)
	}
	if h.HasCheckSum {
		end += checksumSize
	}
	if end > w.src.Size() {
		return Frame{}, 0, notArchive(w.src, "truncated: the zstd frame at offset %d runs %d bytes past the end of the file", off, end-w.src.Size())
	}
	f.CompressedSize = end - off
	return f, end, nil
}

// blocksEnd follows the block headers from off to the end of the last block.
func blocksEnd(w *window, off int64) (int64, error) {
	for {
		b, err := w.at(off, blockHeaderSize)
		if err != nil {
			return 0, err
		}
		bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		size := int64(bh >> 3)
		if size > maxBlockSize {
			return 0, notArchive(w.src, "block at offset %d holds %d bytes, more than a block may", off, size)
		}
		switch bh >> 1 & 3 {
		case 1: // RLE: one byte, repeated
			size = 1
		case 3:
			return 0, notArchive(w.src, "block at offset %d of the reserved type", off)
		}
		off += blockHeaderSize + size
		if bh&1 != 0 {
			return off, nil
		}
	}
}

// window reads a file through a buffer, so that walking its headers costs
// a read per windowSize bytes of the file, not one per header.
type window struct {
	src source.Source
	buf []byte
	off int64 // of buf[0] in the file
	n   int   // bytes of buf read
}

// at returns the n bytes at off.
func (w *window) at(off int64, n int) ([]byte, error) {
	if off+int64(n) > w.src.Size() {
		return nil, notArchive(w.src, "truncated: %d bytes at offset %d run past the end of the file", n, off)
	}
	if off < w.off || off+int64(n) > w.off+int64(w.n) {
		if err := w.fill(off); err != nil {
			return nil, err
		}
	}
	return w.buf[off-w.off:][:n], nil
}

// fill reads the window at off.
func (w *window) fill(off int64) error {
	m := int(min(int64(len(w.buf)), w.src.Size()-off))
	read, err := w.src.ReadAt(w.buf[:m], off)
	if read < m {
		return fmt.Errorf("%s: reading at offset %d: %w", w.src.Name(), off, noEOF(err))
	}
	w.off, w.n = off, m
	return nil
}

func noEOF(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
