package zstdseek

import (
	"errors"
	"fmt"
	"math"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/source"
)

// Frame is one frame of a zstd stream: where its bytes are in the file,
// and where its content is in the uncompressed stream.
type Frame struct {
	CompressedOffset int64
	CompressedSize   int64
	Offset           int64 // of its content in the uncompressed stream
	Size             int64 // of its content
	// Checksum is the low 32 bits of the XXH64 of its content, when
	// HasChecksum: a seek table may record it.
	Checksum    uint32
	HasChecksum bool
}

var (
	// ErrNotSeekable is returned by ReadSeekTable for a file that does
	// not end in a seek table.
	ErrNotSeekable = errors.New("no zstd seek table")
	// ErrNoContentSize is returned by WalkFrames for a frame whose header
	// does not give the size of its content, which only decoding it tells.
	ErrNoContentSize = errors.New("zstd frame without Frame_Content_Size")
	// ErrLargeFrame is returned by WalkFrames for a frame that holds more
	// than the span it is asked to enter a stream by: one frame, as zstd
	// -T0 writes, is better decompressed once.
	ErrLargeFrame = errors.New("zstd frame too large to be entered")
)

// DefaultMaxRatio bounds how many times its compressed size the content of
// a stream may claim to be, as internal/compression bounds a decompression.
const DefaultMaxRatio = 100

// Options tune Open and MeasureFrames.
type Options struct {
	// MaxRatio refuses a stream whose frames claim more than MaxRatio
	// times the size of the file; 0 means DefaultMaxRatio.
	MaxRatio int64
}

func (o Options) maxRatio() int64 {
	if o.MaxRatio <= 0 {
		return DefaultMaxRatio
	}
	return o.MaxRatio
}

// maxContent is the most content a stream of size bytes may hold.
func (o Options) maxContent(size int64) int64 {
	if size > math.MaxInt64/o.maxRatio() {
		return math.MaxInt64
	}
	return o.maxRatio() * size
}

// Enterable tells whether entering the stream at its frames is of use: no
// frame holds more than maxSpan bytes of content. A stream of larger frames
// (one frame, as zstd -T0 writes) is better decompressed once. It is
// for frames a seek table lists; WalkFrames stops at the first such frame.
func Enterable(frames []Frame, maxSpan int64) bool {
	for _, f := range frames {
		if f.Size > maxSpan {
			return false
		}
	}
	return true
}

// notArchive is the error for bytes of src that are not what they claim.
func notArchive(src source.Source, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", src.Name(), errkind.ErrNotArchive, fmt.Sprintf(format, args...))
}
