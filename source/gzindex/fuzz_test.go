package gzindex

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// FuzzUnmarshalIndex decodes indexes, and reads through each that is
// made for the seed's stream, with the seed's windows: what it says of
// them, their places and checksums, fails those reads or none.
func FuzzUnmarshalIndex(f *testing.F) {
	plain := content(300<<10, 10)
	compressed := fuzzGzip(plain, 1)
	_, idx, err := index(compressed, Options{Spacing: 64 << 10}, 0)
	if err != nil {
		f.Fatal(err)
	}
	good, err := idx.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	windows := make([]byte, idx.WindowBytes)
	if _, err := idx.Windows.ReadAt(windows, 0); err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		var idx Index
		if err := idx.UnmarshalBinary(b); err != nil {
			return
		}
		if err := idx.Validate(idx.Compressed); err != nil {
			t.Fatalf("UnmarshalBinary took an index Validate refuses: %v", err)
		}
		again, err := idx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Index
		if err := back.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(&back, &idx) {
			t.Fatalf("the index differs once marshaled again: %v", err)
		}
		if idx.Compressed != int64(len(compressed)) {
			return
		}
		idx.Windows = bytes.NewReader(windows)
		s, err := Open(newMemSource(compressed), &idx)
		if err != nil {
			t.Fatalf("Open refuses what UnmarshalBinary took: %v", err)
		}
		// A forged index fails a read or gives other bytes, which blob
		// digests find out; it must neither panic nor hang.
		p := make([]byte, 4<<10)
		for _, cp := range idx.Checkpoints[:min(len(idx.Checkpoints), 16)] {
			s.ReadAt(p, cp.Uncompressed)
		}
	})
}

func FuzzReadTable(f *testing.F) {
	f.Add(ocitarGzip(100, 3000)(f, content(5000, 11)))
	f.Add(ocitarGzip()(f, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		src := newMemSource(b)
		idx, err := ReadTable(src)
		if err != nil {
			return
		}
		s, err := Open(src, idx)
		if err != nil {
			t.Fatalf("Open refuses what ReadTable returned: %v", err)
		}
		// Read a bounded part: a table may claim far more than the file holds.
		p := make([]byte, 64<<10)
		for off := int64(0); off < min(s.Size(), 1<<20); off += int64(len(p)) {
			if _, err := s.ReadAt(p, off); err != nil {
				return
			}
		}
	})
}

// fuzzGzip compresses plain into members at levels, blocks and flushes
// that seed chooses.
func fuzzGzip(plain []byte, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	var out bytes.Buffer
	// The levels whose encoders are quick to set up, each with other blocks.
	levels := []int{gzip.HuffmanOnly, gzip.NoCompression, 1, 2, 3}
	zw, _ := gzip.NewWriterLevel(&out, levels[r.IntN(len(levels))])
	for p := plain; len(p) > 0; {
		n := min(len(p), 1+r.IntN(8<<10))
		zw.Write(p[:n])
		p = p[n:]
		switch r.IntN(8) {
		case 0, 1:
			zw.Flush()
		case 2:
			zw.Close()
			zw.Reset(&out)
		}
	}
	zw.Close()
	return out.Bytes()
}

func FuzzResume(f *testing.F) {
	f.Add([]byte("the quick brown fox jumps over the lazy dog"), uint64(1), uint32(4096))
	f.Add(content(20_000, 12), uint64(2), uint32(1))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, spacing uint32) {
		if len(data) == 0 {
			return
		}
		// Repeated, data makes matches that reach back across block boundaries.
		plain := bytes.Repeat(data, (maxPlain+len(data)-1)/len(data))[:maxPlain]
		compressed := fuzzGzip(plain, seed)
		r := rand.New(rand.NewPCG(seed, 4))
		marks := make([]int64, r.IntN(8))
		for i := range marks {
			marks[i] = r.Int64N(int64(len(plain)))
		}
		slices.Sort(marks)
		opts := Options{Spacing: int64(spacing%(64<<10)) + 1, MaxRatio: 1 << 20}
		out, idx, err := index(compressed, opts, r.Int64N(64<<10)-32<<10, marks...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, plain) {
			t.Fatal("the Indexer read other bytes")
		}
		s, err := Open(newMemSource(compressed), idx)
		if err != nil {
			t.Fatal(err)
		}
		readRandom(t, s, plain, 8, seed)
	})
}

// maxPlain is how many bytes FuzzResume compresses, enough for a few
// checkpoints, few enough for thousands of runs a second.
const maxPlain = 16 << 10
