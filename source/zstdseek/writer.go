package zstdseek

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// FrameSize is the most content a Writer puts in one frame.
const FrameSize = 4 << 20

var errClosed = errors.New("zstd seekable writer closed")

// Writer writes the zstd seekable format: frames of at most FrameSize bytes
// of content, each with its Frame_Content_Size and content checksum, then
// a seek table with the checksum of each. A tar writer ends a frame before
// each entry's header, so that a reader enters the stream at any entry.
// The same writes give the same bytes.
type Writer struct {
	w       io.Writer
	enc     *zstd.Encoder
	content []byte // of the frame being written
	frame   []byte // the last frame, encoded
	table   []byte // the seek table's entries so far
	frames  uint32
	err     error
}

// NewWriter writes to w at level, one of zstd's levels (1 to 22, 3 the
// default), as klauspost/compress maps them to its own.
func NewWriter(w io.Writer, level int) (*Writer, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true),
		zstd.WithSingleSegment(true), // the content size in every header, even below 256 bytes
	)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder at level %d: %w", level, err)
	}
	return &Writer{w: w, enc: enc, content: make([]byte, 0, FrameSize)}, nil
}

// Write adds p to the current frame, ending it each time it holds FrameSize bytes.
func (w *Writer) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && w.err == nil {
		n := copy(w.content[len(w.content):FrameSize], p)
		w.content = w.content[:len(w.content)+n]
		p, written = p[n:], written+n
		if len(w.content) == FrameSize {
			w.EndFrame()
		}
	}
	return written, w.err
}

// EndFrame writes the current frame, so that what is written next starts a
// frame a reader can enter. It does nothing when the frame is empty.
func (w *Writer) EndFrame() error {
	if w.err != nil || len(w.content) == 0 {
		return w.err
	}
	if w.frames == maxFrames {
		w.err = fmt.Errorf("zstd seekable format: more than the %d frames ocitar reads", maxFrames)
		return w.err
	}
	w.frame = w.enc.EncodeAll(w.content, w.frame[:0])
	if _, err := w.w.Write(w.frame); err != nil {
		w.err = fmt.Errorf("writing a zstd frame: %w", err)
		return w.err
	}
	w.table = binary.LittleEndian.AppendUint32(w.table, uint32(len(w.frame)))
	w.table = binary.LittleEndian.AppendUint32(w.table, uint32(len(w.content)))
	// The frame's content checksum is, as the seek table's, the low 32
	// bits of the XXH64 of the content.
	w.table = append(w.table, w.frame[len(w.frame)-checksumSize:]...)
	w.frames++
	w.content = w.content[:0]
	return nil
}

// Close ends the current frame and writes the seek table. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	if err := w.EndFrame(); err != nil {
		return err
	}
	w.enc.Close()
	t := make([]byte, 0, skippableHeader+len(w.table)+footerSize)
	t = binary.LittleEndian.AppendUint32(t, seekTableMagic)
	t = binary.LittleEndian.AppendUint32(t, uint32(len(w.table)+footerSize))
	t = append(t, w.table...)
	t = binary.LittleEndian.AppendUint32(t, w.frames)
	t = append(t, checksumFlag)
	t = binary.LittleEndian.AppendUint32(t, seekableMagic)
	w.err = errClosed
	if _, err := w.w.Write(t); err != nil {
		return fmt.Errorf("writing the zstd seek table: %w", err)
	}
	return nil
}
