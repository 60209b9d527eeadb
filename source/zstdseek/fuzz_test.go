package zstdseek

import (
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// maxFuzzInput bounds the files the fuzz targets read; ReadSeekTable,
// WalkFrames and Open must bound what they allocate for them.
const maxFuzzInput = 64 << 10

// fuzzSeeds are small valid streams of each form the package reads.
func fuzzSeeds(f *testing.F) [][]byte {
	content := testContent(3000, 9)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		f.Fatal(err)
	}
	frame := enc.EncodeAll(content, nil)
	pzstdLike := append([]byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, byte(len(frame)), byte(len(frame) >> 8), 0, 0}, frame...)
	return [][]byte{
		seekable(f, content, 100, 1000),
		seekable(f, nil),
		skippableFrames(2),
		append(frame, frame...),
		pzstdLike,
		{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x01, 0x00, 0x00},
		[]byte("not zstd at all"),
	}
}

// readAll reads the content of frames through Open, to the end: decoding
// must stop at what frames claim, which Open bounds.
func readAll(src memSource, frames []Frame) {
	spans, err := Open(src, frames, Options{})
	if err != nil {
		return
	}
	defer spans.Close()
	io.Copy(io.Discard, io.NewSectionReader(spans, 0, spans.Size()))
}

// FuzzReadSeekTable reads the seek table of arbitrary bytes, then the
// content it describes. It must not panic, hang or allocate without bound.
func FuzzReadSeekTable(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		src := newMem("fuzz", data)
		if frames, err := ReadSeekTable(src); err == nil {
			readAll(src, frames)
		}
	})
}

// FuzzWalkFrames walks and measures the frames of arbitrary bytes, then
// reads the content they hold.
func FuzzWalkFrames(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		src := newMem("fuzz", data)
		if frames, err := WalkFrames(src, maxSpan); err == nil {
			readAll(src, frames)
		}
		if frames, err := MeasureFrames(src, Options{}); err == nil {
			readAll(src, frames)
		}
	})
}
