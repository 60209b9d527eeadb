package gzindex

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"sort"
	"testing"

	"github.com/klauspost/compress/flate"
)

// forms are the kinds of gzip the package reads, each made as its tool makes it.
var forms = []struct {
	name     string
	compress compressor
	members  int // at least
}{
	{"gzip -6", command("gzip", "-6", "-n", "-c"), 1},
	{"pigz", command("pigz", "-n", "-c", "-p", "2"), 1},
	{"multi-member", multiMember(1000, 3<<20, 3<<20+1), 4},
	{"bgzf", bgzf, 6<<20/65280 + 1},
	{"ocitar", ocitarGzip(512, 1<<20), 5},
}

func TestIndexerForms(t *testing.T) {
	plain := content(6<<20, 1)
	marks := []int64{512, 1 << 20, 1<<20 + 512, 5 << 20}
	for _, tt := range forms {
		t.Run(tt.name, func(t *testing.T) {
			compressed := tt.compress(t, plain)
			out, idx, err := index(compressed, Options{Spacing: 1 << 20}, 200_000, marks...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, plain) {
				t.Fatalf("the Indexer read %d bytes, not the %d plain ones", len(out), len(plain))
			}
			if idx.Size != int64(len(plain)) || idx.Compressed != int64(len(compressed)) {
				t.Fatalf("index of %d from %d bytes, want %d from %d", idx.Size, idx.Compressed, len(plain), len(compressed))
			}
			members := 0
			for _, cp := range idx.Checkpoints {
				if cp.MemberStart {
					members++
				}
			}
			if members < tt.members {
				t.Errorf("%d member starts, want at least %d", members, tt.members)
			}
			t.Logf("%d checkpoints, %d member starts", len(idx.Checkpoints), members)
			s, err := Open(newMemSource(compressed), idx)
			if err != nil {
				t.Fatal(err)
			}
			readRandom(t, s, plain, 30, 3)

			b, err := idx.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back Index
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			back.Windows = idx.Windows
			if !reflect.DeepEqual(&back, idx) {
				t.Fatal("the index differs once marshaled and unmarshaled")
			}
		})
	}
}

// blockEnds records where every block and member of a stream ends or starts.
type blockEnds struct{ offsets []int64 }

func (r *blockEnds) blockEnd(cp flate.InflateCheckpoint) {
	r.offsets = append(r.offsets, cp.UncompressedOffset)
}
func (r *blockEnds) memberStart(c, u int64) { r.offsets = append(r.offsets, u) }

func allBlockEnds(t *testing.T, compressed []byte) []int64 {
	r := &blockEnds{}
	if _, err := io.Copy(io.Discard, newStream(bytes.NewReader(compressed), 0, 0, r)); err != nil {
		t.Fatal(err)
	}
	return r.offsets
}

func TestIndexerMark(t *testing.T) {
	plain := content(12<<20, 2)
	compressed := command("gzip", "-6", "-n", "-c")(t, plain)
	ends := allBlockEnds(t, compressed)
	marks := []int64{100_000, 100_512, 2 << 20, 5<<20 + 3, 11 << 20}
	tests := []struct {
		name string
		lag  int64 // how far past a mark the read is when it is given
	}{
		{"given ahead of the read", -1 << 30},
		{"given as the read reaches it", 0},
		{"given 1 MiB late", 1 << 20},
		{"given 3 MiB late", 3 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, idx, err := index(compressed, Options{Spacing: 64 << 20}, tt.lag, marks...)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range marks {
				last := ends[sort.Search(len(ends), func(i int) bool { return ends[i] > m })-1]
				k := sort.Search(len(idx.Checkpoints), func(i int) bool { return idx.Checkpoints[i].Uncompressed > m }) - 1
				if got := idx.Checkpoints[k].Uncompressed; got < last-minGap {
					t.Errorf("Mark(%d): checkpoint at %d, the last block end before it is at %d", m, got, last)
				}
			}
			if len(idx.Checkpoints) > 1+len(marks) {
				t.Errorf("%d checkpoints for %d marks", len(idx.Checkpoints), len(marks))
			}
		})
	}
}

func TestIndexerSpacing(t *testing.T) {
	plain := content(20<<20, 3)
	compressed := command("gzip", "-6", "-n", "-c")(t, plain)
	const spacing = 2 << 20
	_, idx, err := index(compressed, Options{Spacing: spacing}, 0)
	if err != nil {
		t.Fatal(err)
	}
	prev := int64(0)
	for _, cp := range append(idx.Checkpoints[1:], Checkpoint{Uncompressed: idx.Size}) {
		if cp.Uncompressed-prev > spacing+256<<10 {
			t.Errorf("%d bytes between checkpoints at %d and %d", cp.Uncompressed-prev, prev, cp.Uncompressed)
		}
		prev = cp.Uncompressed
	}
}

// failingWriter takes n bytes, then fails.
type failingWriter struct{ n int }

var errWriteFailed = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errWriteFailed
	}
	w.n -= len(p)
	return len(p), nil
}

// TestIndexerWindows: the windows go to Options.Windows, where the index
// locates them, and a write that fails fails the pass.
func TestIndexerWindows(t *testing.T) {
	plain := content(3<<20, 13)
	compressed := command("gzip", "-6", "-n", "-c")(t, plain)
	var windows bytes.Buffer
	_, idx, err := index(compressed, Options{Spacing: 256 << 10, Windows: &windows}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Windows != nil || idx.WindowBytes != int64(windows.Len()) || windows.Len() == 0 {
		t.Fatalf("%d bytes of windows written, the index says %d, its Windows %v", windows.Len(), idx.WindowBytes, idx.Windows)
	}
	idx.Windows = bytes.NewReader(windows.Bytes())
	s, err := Open(newMemSource(compressed), idx)
	if err != nil {
		t.Fatal(err)
	}
	readRandom(t, s, plain, 30, 5)

	_, _, err = index(compressed, Options{Spacing: 256 << 10, Windows: &failingWriter{n: windows.Len() / 2}}, 0)
	if !errors.Is(err, errWriteFailed) {
		t.Errorf("with a failing Windows: err = %v, want %v", err, errWriteFailed)
	}
}
