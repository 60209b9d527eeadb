package zstdseek

import (
	"bytes"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/ocitar/ocitar/internal/errkind"
)

// TestOpenBadFrame reads each frame of a file with one bad frame, or a
// seek table that lies about one: only the reads that touch it fail.
func TestOpenBadFrame(t *testing.T) {
	content := testContent(400_000, 6)
	good := seekable(t, content, 100_000, 200_000, 300_000)
	frames, err := ReadSeekTable(newMem("good", good))
	if err != nil {
		t.Fatal(err)
	}
	mid := frames[1].CompressedOffset + frames[1].CompressedSize/2
	tests := []struct {
		name string
		file []byte
		bad  []int // the frames whose reads fail
	}{
		{"good", good, nil},
		{"a corrupt frame", patch(good, int(mid), good[mid]^0x55), []int{1}},
		{"frames overlapping by 5 bytes", setEntry(setEntry(good, 1, 0, entry(good, 1, 0)-5), 2, 0, entry(good, 2, 0)+5), []int{1, 2}},
		{"a content size too small", setEntry(setEntry(good, 1, 1, entry(good, 1, 1)-1), 2, 1, entry(good, 2, 1)+1), []int{1, 2}},
		{"a content size too large", setEntry(setEntry(good, 1, 1, entry(good, 1, 1)+1), 2, 1, entry(good, 2, 1)-1), []int{1, 2}},
		{"a checksum that is not the frame's", setEntry(good, 1, 2, entry(good, 1, 2)^1), []int{1}},
		// A read of the empty frame reads nothing: only a read from the frame
		// before it into the frame after it reaches it.
		{"an empty frame that is not", setEntry(setEntry(good, 1, 1, 0), 2, 1, entry(good, 2, 1)+entry(good, 1, 1)), []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newMem("test.tar.zst", tt.file)
			frames, err := ReadSeekTable(src)
			if err != nil {
				t.Fatal(err)
			}
			spans, err := Open(src, frames, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer spans.Close()
			for i, f := range frames {
				p := make([]byte, f.Size)
				_, err := spans.ReadAt(p, f.Offset)
				wantBad := contains(tt.bad, i)
				if wantBad != errors.Is(err, errkind.ErrNotArchive) || (!wantBad && (err != nil || !bytes.Equal(p, content[f.Offset:f.Offset+f.Size]))) {
					t.Errorf("frame %d: %v, want a bad frame: %v", i, err, wantBad)
				}
			}
		})
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestOpenReadAcrossBadFrame reads from a good frame into a corrupt one.
func TestOpenReadAcrossBadFrame(t *testing.T) {
	content := testContent(300_000, 7)
	good := seekable(t, content, 100_000, 200_000)
	frames, err := ReadSeekTable(newMem("good", good))
	if err != nil {
		t.Fatal(err)
	}
	last := frames[2].CompressedOffset + frames[2].CompressedSize - 1 // its checksum
	src := newMem("test.tar.zst", patch(good, int(last), good[last]^1))
	spans, err := Open(src, frames, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer spans.Close()
	if _, err := spans.ReadAt(make([]byte, 150_000), 150_000); !errors.Is(err, errkind.ErrNotArchive) {
		t.Errorf("read into a frame of a wrong checksum: %v", err)
	}
	if _, err := io.ReadAll(io.NewSectionReader(spans, 0, 200_000)); err != nil {
		t.Errorf("read of the frames before it: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	src := newMem("test.tar.zst", make([]byte, 1000))
	tests := []struct {
		name   string
		frames []Frame
		opts   Options
		want   error
	}{
		{"good", []Frame{{0, 500, 0, 10, 0, false}, {500, 500, 10, 10, 0, false}}, Options{}, nil},
		{"overlapping", []Frame{{0, 500, 0, 10, 0, false}, {499, 500, 10, 10, 0, false}}, Options{}, errkind.ErrNotArchive},
		{"out of order", []Frame{{500, 500, 0, 10, 0, false}, {0, 500, 10, 10, 0, false}}, Options{}, errkind.ErrNotArchive},
		{"past the end", []Frame{{990, 500, 0, 10, 0, false}}, Options{}, errkind.ErrNotArchive},
		{"of no bytes", []Frame{{0, 0, 0, 10, 0, false}}, Options{}, errkind.ErrNotArchive},
		{"a gap in the content", []Frame{{0, 500, 0, 10, 0, false}, {500, 500, 11, 10, 0, false}}, Options{}, errkind.ErrNotArchive},
		{"a negative size", []Frame{{0, 500, 0, -10, 0, false}}, Options{}, errkind.ErrNotArchive},
		{"sizes that overflow", []Frame{{0, 500, 0, math.MaxInt64, 0, false}, {500, 500, math.MaxInt64, 1, 0, false}}, Options{}, errkind.ErrNotArchive},
		{"a bomb", []Frame{{0, 1000, 0, 100_001, 0, false}}, Options{}, errkind.ErrTooLarge},
		{"at the bound", []Frame{{0, 1000, 0, 100_000, 0, false}}, Options{}, nil},
		{"within a higher bound", []Frame{{0, 1000, 0, 1 << 30, 0, false}}, Options{MaxRatio: 1 << 21}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(src, tt.frames, tt.opts); !errors.Is(err, tt.want) {
				t.Errorf("Open: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestOpenBombTable opens a seek table that claims 4 GiB from one small frame.
func TestOpenBombTable(t *testing.T) {
	good := seekable(t, []byte("small"))
	src := newMem("bomb.tar.zst", setEntry(good, 0, 1, 1<<32-1))
	frames, err := ReadSeekTable(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(src, frames, Options{}); !errors.Is(err, errkind.ErrTooLarge) {
		t.Errorf("Open: %v, want %v", err, errkind.ErrTooLarge)
	}
}

func TestEnterable(t *testing.T) {
	tests := []struct {
		sizes []int64
		want  bool
	}{
		{nil, true},
		{[]int64{4, 4, 0}, true},
		{[]int64{4, 5, 4}, false},
	}
	for _, tt := range tests {
		var frames []Frame
		for _, s := range tt.sizes {
			frames = append(frames, Frame{Size: s})
		}
		if got := Enterable(frames, 4); got != tt.want {
			t.Errorf("Enterable(%v, 4) = %v", tt.sizes, got)
		}
	}
}

var errDisk = errors.New("disk error")

// failingSource fails the reads that reach from.
type failingSource struct {
	memSource
	from int64
}

func (f failingSource) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.from {
		return 0, errDisk
	}
	return f.memSource.ReadAt(p, off)
}

// flakySource fails the reads after the first ok ones.
type flakySource struct {
	memSource
	ok int
}

func (f *flakySource) ReadAt(p []byte, off int64) (int, error) {
	if f.ok == 0 {
		return 0, errDisk
	}
	f.ok--
	return f.memSource.ReadAt(p, off)
}

// TestReadError fails the reads of the file after its first frame: errors
// of reading are not errors of the data.
func TestReadError(t *testing.T) {
	content := testContent(200_000, 8)
	file := seekable(t, content, 100_000)
	frames, err := ReadSeekTable(newMem("good", file))
	if err != nil {
		t.Fatal(err)
	}
	src := failingSource{newMem("test.tar.zst", file), frames[1].CompressedOffset}
	spans, err := Open(src, frames, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer spans.Close()
	if _, err := spans.ReadAt(make([]byte, 100), 150_000); !errors.Is(err, errDisk) || errors.Is(err, errkind.ErrNotArchive) {
		t.Errorf("ReadAt: %v, want %v alone", err, errDisk)
	}
	if _, err := WalkFrames(src, maxSpan); !errors.Is(err, errDisk) || errors.Is(err, errkind.ErrNotArchive) {
		t.Errorf("WalkFrames: %v, want %v alone", err, errDisk)
	}
	pzstd := &flakySource{newMem("test.tar.zst", compressFile(t, content, "pzstd", "-1")), 1} // the walk's read
	if _, err := MeasureFrames(pzstd, Options{}); !errors.Is(err, errDisk) || errors.Is(err, errkind.ErrNotArchive) {
		t.Errorf("MeasureFrames: %v, want %v alone", err, errDisk)
	}
}
