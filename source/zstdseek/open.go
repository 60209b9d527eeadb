package zstdseek

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/zstd"
	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/source"
)

// maxWindow bounds the history a frame may ask its decoder to keep: the
// 128 MiB of zstd --long=27.
const maxWindow = 1 << 27

// newDecoder makes a decoder that keeps little more than a frame's window.
func newDecoder() (*zstd.Decoder, error) {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxWindow),
		zstd.WithDecoderMaxMemory(maxWindow),
	)
	if err != nil {
		return nil, fmt.Errorf("starting a zstd decoder: %w", err)
	}
	return dec, nil
}

// Open presents the content of the zstd stream src as a Source that a read
// enters at the frame it falls in, given the frames ReadSeekTable,
// WalkFrames or MeasureFrames found. Each frame is decoded on its own, so
// that it must hold what frames says: a frame that does not gives an
// error to the reads that reach it, and only to them.
func Open(src source.Source, frames []Frame, opts Options) (*source.Spans, error) {
	if err := checkFrames(src, frames, opts); err != nil {
		return nil, err
	}
	spans := make([]source.Span, len(frames))
	for i, f := range frames {
		spans[i] = source.Span{Offset: f.Offset, Size: f.Size}
	}
	open := func(i int) (io.ReadCloser, error) { return newFrameReader(src, frames[i:]) }
	return source.NewSpans(src.Name(), src.Identity()+"-zst", spans, open)
}

// checkFrames refuses frames that overlap, leave src, leave gaps in the
// content, or claim more than opts.MaxRatio times the size of src.
func checkFrames(src source.Source, frames []Frame, opts Options) error {
	var end, total int64
	for i, f := range frames {
		if f.CompressedOffset < end || f.CompressedSize < minFrameSize || f.CompressedSize > src.Size()-f.CompressedOffset {
			return notArchive(src, "zstd frame %d, %d bytes at offset %d, overlaps the frame before it or leaves the file", i, f.CompressedSize, f.CompressedOffset)
		}
		if f.Offset != total || f.Size < 0 || f.Size > math.MaxInt64-total {
			return notArchive(src, "zstd frame %d claims %d bytes of content at %d, not a size at %d", i, f.Size, f.Offset, total)
		}
		end = f.CompressedOffset + f.CompressedSize
		total += f.Size
	}
	if total > opts.maxContent(src.Size()) {
		return fmt.Errorf("%s: %w: zstd frames claim %d bytes of content, more than %d times the file's %d, a decompression bomb? (limit: Options.MaxRatio)",
			src.Name(), errkind.ErrTooLarge, total, opts.maxRatio(), src.Size())
	}
	return nil
}

// frameReader decodes frames one after another, each from exactly its
// bytes, checking that each holds the content its Frame says. It checks a
// frame as soon as the content listed for it is read, so that a read
// reaching the end of a frame fails if the frame holds more, or other.
type frameReader struct {
	src     source.Source
	frames  []Frame // the frame being read, then those after it
	dec     *zstd.Decoder
	in      recorder
	left    int64 // content the current frame still owes
	inFrame bool
	err     error
}

func newFrameReader(src source.Source, frames []Frame) (*frameReader, error) {
	dec, err := newDecoder()
	if err != nil {
		return nil, err
	}
	return &frameReader{src: src, frames: frames, dec: dec}, nil
}

func (r *frameReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
		return 0, err
	}
	return n, err
}

func (r *frameReader) read(p []byte) (int, error) {
	for !r.inFrame {
		if len(r.frames) == 0 {
			return 0, io.EOF
		}
		if err := r.startFrame(); err != nil {
			return 0, err
		}
	}
	n, err := r.dec.Read(p[:min(int64(len(p)), r.left)])
	r.left -= int64(n)
	switch {
	case errors.Is(err, io.EOF) && r.left > 0:
		return 0, r.frameError("it holds %d bytes of content, not the %d listed", r.frames[0].Size-r.left, r.frames[0].Size)
	case err != nil && !errors.Is(err, io.EOF):
		return 0, r.decodeError(err)
	case r.left == 0:
		return n, r.endFrame()
	}
	return n, nil
}

func (r *frameReader) startFrame() error {
	f := r.frames[0]
	r.in = recorder{r: io.NewSectionReader(r.src, f.CompressedOffset, f.CompressedSize)}
	if err := r.dec.Reset(&r.in); err != nil {
		return r.decodeError(err)
	}
	r.left, r.inFrame = f.Size, true
	if f.Size == 0 {
		return r.endFrame()
	}
	return nil
}

// endFrame checks that the frame has nothing after the content listed for
// it, and that the checksum its decoder verified is the one listed.
func (r *frameReader) endFrame() error {
	var one [1]byte
	n, err := r.dec.Read(one[:])
	if n > 0 {
		return r.frameError("it holds more than the %d bytes of content listed", r.frames[0].Size)
	}
	if !errors.Is(err, io.EOF) {
		return r.decodeError(err)
	}
	if sum, ok := r.in.checksum(); ok && r.frames[0].HasChecksum && sum != r.frames[0].Checksum {
		return r.frameError("its content checksum %08x is not the %08x listed", sum, r.frames[0].Checksum)
	}
	r.frames, r.inFrame = r.frames[1:], false
	return nil
}

// decodeError tells a failure to read the file from a frame that does not
// decode. Like frameError, it leaves naming the file to source.Spans.
func (r *frameReader) decodeError(err error) error {
	if r.in.err != nil {
		return fmt.Errorf("reading the zstd frame at offset %d: %w", r.frames[0].CompressedOffset, r.in.err)
	}
	if r.in.n >= 4 && binary.LittleEndian.Uint32(r.in.head[:]) != frameMagic {
		return r.frameError("no zstd frame starts there, where the seek table puts one")
	}
	return r.frameError("it does not decode: %v", err)
}

func (r *frameReader) frameError(format string, args ...any) error {
	f := r.frames[0]
	return fmt.Errorf("%w: zstd frame of %d bytes at offset %d: %s", errkind.ErrNotArchive, f.CompressedSize, f.CompressedOffset, fmt.Sprintf(format, args...))
}

func (r *frameReader) Close() error {
	r.dec.Close()
	return nil
}

// recorder passes a frame's bytes to its decoder, keeping the first five
// and the last four: the header's descriptor tells whether the last four
// are the checksum of the content, which the decoder verifies.
type recorder struct {
	r    io.Reader
	n    int64
	head [5]byte
	tail [4]byte
	err  error // of reading the file, not of decoding
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n < int64(len(c.head)) {
		copy(c.head[c.n:], p[:n])
	}
	if n >= len(c.tail) {
		copy(c.tail[:], p[n-len(c.tail):n])
	} else {
		copy(c.tail[:], c.tail[n:])
		copy(c.tail[len(c.tail)-n:], p[:n])
	}
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// checksum returns the content checksum that ended the frame, if it has one.
func (c *recorder) checksum() (uint32, bool) {
	const hasChecksum = 1 << 2
	if c.n < int64(len(c.head)+len(c.tail)) || binary.LittleEndian.Uint32(c.head[:]) != frameMagic || c.head[4]&hasChecksum == 0 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(c.tail[:]), true
}
