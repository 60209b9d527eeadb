package gzindex

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/ocitar/ocitar/internal/errkind"
)

// breakBlock makes the deflate block at checkpoint cp one of the reserved
// type, which no decoder takes.
func breakBlock(t *testing.T, compressed []byte, cp Checkpoint) []byte {
	if cp.MemberStart || cp.Bit > 5 {
		t.Fatalf("checkpoint %+v: not a block start within a byte", cp)
	}
	b := bytes.Clone(compressed)
	b[cp.Compressed] |= 3 << (cp.Bit + 1)
	return b
}

// blockCheckpoint is the first checkpoint from the k-th on at a block
// boundary whose block header is within one byte.
func blockCheckpoint(t *testing.T, idx *Index, k int) int {
	for i := k; i < len(idx.Checkpoints); i++ {
		if cp := idx.Checkpoints[i]; !cp.MemberStart && cp.Bit <= 5 {
			return i
		}
	}
	t.Fatal("no block boundary to break")
	return 0
}

func TestIndexerBadInput(t *testing.T) {
	plain := content(6<<20, 4)
	good := multiMember(2<<20)(t, plain)
	_, idx, err := index(good, Options{Spacing: 512 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	secondMember := 0
	for _, cp := range idx.Checkpoints[1:] {
		if cp.MemberStart {
			secondMember = int(cp.Compressed)
			break
		}
	}
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x55
		return b
	}
	tests := []struct {
		name  string
		input []byte
		want  []error
	}{
		{"truncated in deflate data", good[:len(good)/2], []error{errkind.ErrNotArchive, io.ErrUnexpectedEOF}},
		{"truncated in a trailer", good[:len(good)-3], []error{errkind.ErrNotArchive, io.ErrUnexpectedEOF}},
		{"truncated in a header", good[:secondMember+5], []error{errkind.ErrNotArchive, io.ErrUnexpectedEOF}},
		{"corrupt deflate block", breakBlock(t, good, idx.Checkpoints[blockCheckpoint(t, idx, 3)]), []error{errkind.ErrNotArchive}},
		{"wrong CRC", flip(secondMember - 8), []error{errkind.ErrDigestMismatch}},
		{"wrong ISIZE", flip(secondMember - 2), []error{errkind.ErrSizeMismatch}},
		{"trailing garbage", append(bytes.Clone(good), "garbage"...), []error{errkind.ErrNotArchive}},
		{"trailing zeros", append(bytes.Clone(good), make([]byte, 512)...), []error{errkind.ErrNotArchive}},
		{"not gzip", plain[:1000], []error{errkind.ErrNotArchive}},
		{"empty", nil, []error{errkind.ErrNotArchive}},
		{"a bomb", goGzip(t, make([]byte, 16<<20), 9), []error{errkind.ErrTooLarge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := index(tt.input, Options{MaxRatio: 100}, 0)
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
			t.Log(err)
		})
	}
}

func TestOpenBadInput(t *testing.T) {
	plain := content(6<<20, 5)
	good := multiMember(3<<20)(t, plain)
	_, idx, err := index(good, Options{Spacing: 512 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	broken := blockCheckpoint(t, idx, 3)
	var second int // the checkpoint of the second member
	for i, cp := range idx.Checkpoints[1:] {
		if cp.MemberStart {
			second = i + 1
			break
		}
	}
	at := func(i int) int64 { return idx.Checkpoints[i].Uncompressed }
	flip := func(off int64) []byte {
		b := bytes.Clone(good)
		b[off] ^= 0x55
		return b
	}
	shifted := func(i int, by int64) *Index {
		forged := *idx
		forged.Checkpoints = append([]Checkpoint(nil), idx.Checkpoints...)
		forged.Checkpoints[i].Compressed += by
		return &forged
	}
	type read struct {
		off, n int64
		want   []error // nil: the read succeeds
	}
	tests := []struct {
		name       string
		compressed []byte
		idx        *Index
		reads      []read
	}{
		{"corrupt block", breakBlock(t, good, idx.Checkpoints[broken]), idx, []read{
			{0, at(broken), nil},
			{at(broken) - 10, 20, []error{errkind.ErrNotArchive}},
			{at(broken), 10, []error{errkind.ErrNotArchive}},
			{at(broken + 1), at(second) - at(broken+1) + 10, nil},
			{at(second), 1000, nil},
		}},
		{"wrong CRC", flip(idx.Checkpoints[second].Compressed - 8), idx, []read{
			{0, at(second) + 10, []error{errkind.ErrDigestMismatch}},
			{at(1), at(second) - at(1) + 10, nil}, // entered mid-member: the CRC is unknown
			{at(second), 1000, nil},
		}},
		{"wrong ISIZE", flip(idx.Checkpoints[second].Compressed - 1), idx, []read{
			{at(1), at(second) - at(1) + 10, []error{errkind.ErrSizeMismatch}},
			{at(second), 1000, nil},
		}},
		{"block boundary shifted", good, shifted(broken, 1), []read{
			{at(broken - 1), at(broken) - at(broken-1) + 10, []error{errkind.ErrInvalidMetadata, ErrIndexMismatch}},
			{at(second), 1000, nil},
		}},
		{"member start shifted", good, shifted(second, -1), []read{
			{at(second - 1), at(second) - at(second-1) + 10, []error{errkind.ErrInvalidMetadata, ErrIndexMismatch}},
			{at(second), 10, []error{errkind.ErrNotArchive}},
			{0, 1000, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(newMemSource(tt.compressed), tt.idx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.reads {
				p := make([]byte, r.n)
				n, err := s.ReadAt(p, r.off)
				switch {
				case r.want == nil && err != nil:
					t.Errorf("ReadAt(%d bytes, %d): %v", r.n, r.off, err)
				case r.want == nil && !bytes.Equal(p[:n], plain[r.off:r.off+r.n]):
					t.Errorf("ReadAt(%d bytes, %d): not the plain bytes", r.n, r.off)
				}
				for _, want := range r.want {
					if !errors.Is(err, want) {
						t.Errorf("ReadAt(%d bytes, %d): err = %v, want %v", r.n, r.off, err, want)
					}
				}
			}
		})
	}
}

func TestOpenForgedIndex(t *testing.T) {
	plain := content(2<<20, 6)
	compressed := command("gzip", "-6", "-n", "-c")(t, plain)
	_, idx, err := index(compressed, Options{Spacing: 512 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(f func(*Index)) *Index {
		forged := *idx
		forged.Checkpoints = append([]Checkpoint(nil), idx.Checkpoints...)
		f(&forged)
		return &forged
	}
	last := len(idx.Checkpoints) - 1
	tests := []struct {
		name string
		idx  *Index
	}{
		{"made for another size", forge(func(x *Index) { x.Compressed++ })},
		{"a checkpoint outside the file", forge(func(x *Index) { x.Checkpoints[last].Compressed = x.Compressed + 10 })},
		{"a checkpoint past the end", forge(func(x *Index) { x.Checkpoints[last].Uncompressed = x.Size + 1 })},
		{"out of order", forge(func(x *Index) { x.Checkpoints[1], x.Checkpoints[2] = x.Checkpoints[2], x.Checkpoints[1] })},
		{"bit offset 8", forge(func(x *Index) { x.Checkpoints[1].Bit = 8 })},
		{"not starting at 0", forge(func(x *Index) { x.Checkpoints = x.Checkpoints[1:] })},
		{"no checkpoints", forge(func(x *Index) { x.Checkpoints = nil })},
		{"a window cut short", forge(func(x *Index) { x.Checkpoints[1].window = window{size: 10} })},
		{"a member start with a window", forge(func(x *Index) { x.Checkpoints[0].window = x.Checkpoints[1].window })},
		{"a block boundary without a window", forge(func(x *Index) { x.Checkpoints[1].window = window{} })},
		{"a window past the windows", forge(func(x *Index) { x.Checkpoints[1].window.off = x.WindowBytes })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(newMemSource(compressed), tt.idx); !errors.Is(err, errkind.ErrInvalidMetadata) {
				t.Errorf("Open: err = %v, want ErrInvalidMetadata", err)
			}
		})
	}
}
