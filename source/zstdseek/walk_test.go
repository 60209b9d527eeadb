package zstdseek

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ocitar/ocitar/internal/errkind"
)

// maxSpan is the frame size beyond which a test calls a stream not worth entering.
const maxSpan = FrameSize

// concatenated is the zstd outputs of the parts of content, end to end,
// with a skippable frame between the first two.
func concatenated(t testing.TB, content []byte, cuts ...int) []byte {
	var out []byte
	last := 0
	for i, c := range append(cuts, len(content)) {
		out = append(out, compressFile(t, content[last:c], "zstd", "-3")...)
		if i == 0 {
			out = append(out, 0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c')
		}
		last = c
	}
	return out
}

func TestWalkFrames(t *testing.T) {
	content := testContent(6<<20, 3)
	tests := []struct {
		name       string
		stream     func(t *testing.T) []byte
		wantErr    error // of WalkFrames
		wantFrames int   // of MeasureFrames
	}{
		{"zstd outputs end to end", func(t *testing.T) []byte { return concatenated(t, content, 1000, 3<<20, 5<<20) }, nil, 4},
		// pzstd -1 writes frames of 2 MiB, then an empty one.
		{"pzstd -1", func(t *testing.T) []byte { return compressFile(t, content, "pzstd", "-1") }, ErrNoContentSize, 4},
		{"zstd -T0 --long=25 of a file", func(t *testing.T) []byte { return compressFile(t, content, "zstd", "-T0", "--long=25") }, ErrLargeFrame, 1},
		{"zstd -T0 of a pipe", func(t *testing.T) []byte { return tool(t, content, "zstd", "-q", "-T0", "-c") }, ErrNoContentSize, 1},
		{"ocitar's seekable format", func(t *testing.T) []byte { return seekable(t, content) }, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newMem("test.tar.zst", tt.stream(t))
			walked, err := WalkFrames(src, maxSpan)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("WalkFrames: %v, want %v", err, tt.wantErr)
			}
			frames, err := MeasureFrames(src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != tt.wantFrames || (tt.wantErr == nil && len(walked) != len(frames)) {
				t.Fatalf("MeasureFrames finds %d frames, WalkFrames %d; want %d", len(frames), len(walked), tt.wantFrames)
			}
			spans, err := Open(src, frames, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer spans.Close()
			checkReads(t, spans, content)
		})
	}
}

// TestWalkFramesStopsAtLargeFrame walks a stream whose first frame is too
// large to be entered: WalkFrames reads its header alone, not its blocks.
func TestWalkFramesStopsAtLargeFrame(t *testing.T) {
	stream := compressFile(t, testContent(6<<20, 3), "zstd", "-T0", "--long=25")
	src := &countingSource{memSource: newMem("one-frame.zst", stream)}
	if _, err := WalkFrames(src, maxSpan); !errors.Is(err, ErrLargeFrame) {
		t.Fatalf("WalkFrames: %v, want %v", err, ErrLargeFrame)
	}
	if src.reads != 1 {
		t.Errorf("WalkFrames made %d reads of a one-frame stream, want 1 (the frame's header)", src.reads)
	}
}

func TestWalkFramesBadInput(t *testing.T) {
	good := concatenated(t, testContent(300_000, 4), 100_000)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	small := enc.EncodeAll(bytes.Repeat([]byte("abc"), 100), nil)
	var h zstd.Header
	if err := h.Decode(small); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"truncated in its checksum", good[:len(good)-2], errkind.ErrNotArchive},
		{"truncated in a block", good[:len(good)/2], errkind.ErrNotArchive},
		{"cut in a header", good[:5], errkind.ErrNotArchive},
		{"garbage after a frame", append(append([]byte{}, small...), "garbage!"...), errkind.ErrNotArchive},
		{"skippable frame past the end", append(append([]byte{}, small...), 0x50, 0x2a, 0x4d, 0x18, 0xff, 0, 0, 0, 1), errkind.ErrNotArchive},
		{"reserved block type", patch(small, h.HeaderSize, small[h.HeaderSize]|0x06), errkind.ErrNotArchive},
		{"block larger than allowed", append(small[:h.HeaderSize:h.HeaderSize], 0xf9, 0xff, 0xff), errkind.ErrNotArchive},
		{"needs a dictionary", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x50, 7, 1, 0, 0, 'x'}, errkind.ErrNotArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := WalkFrames(newMem("bad.zst", tt.stream), maxSpan); !errors.Is(err, tt.want) {
				t.Errorf("WalkFrames: %v, want %v", err, tt.want)
			}
		})
	}
}

// patch returns b with b[i] set to c.
func patch(b []byte, i int, c byte) []byte {
	out := bytes.Clone(b)
	out[i] = c
	return out
}

// TestMeasureFramesBomb measures a pzstd-like stream whose content is far
// more than MaxRatio times its size.
func TestMeasureFramesBomb(t *testing.T) {
	zeros := compressFile(t, make([]byte, 10<<20), "pzstd", "-1")
	tests := []struct {
		ratio int64
		want  error
	}{
		{0, errkind.ErrTooLarge},
		{1 << 20, nil},
		{math.MaxInt64, nil},
	}
	for _, tt := range tests {
		_, err := MeasureFrames(newMem("zeros.zst", zeros), Options{MaxRatio: tt.ratio})
		if !errors.Is(err, tt.want) {
			t.Errorf("MaxRatio %d: %v, want %v", tt.ratio, err, tt.want)
		}
	}
}
