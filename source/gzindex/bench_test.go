package gzindex

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// benchGzip is 64 MiB of content compressed as gzip -6 does, made once.
var benchGzip = sync.OnceValues(func() ([]byte, []byte) {
	plain := content(64<<20, 13)
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, 6)
	zw.Write(plain)
	zw.Close()
	return plain, b.Bytes()
})

// BenchmarkIndex is an index pass at the default spacing, and what the
// index costs per GiB of uncompressed content once marshaled.
func BenchmarkIndex(b *testing.B) {
	plain, compressed := benchGzip()
	b.SetBytes(int64(len(plain)))
	var idx *Index
	for b.Loop() {
		var err error
		if idx, err = NewIndexer(bytes.NewReader(compressed), Options{}).Finish(); err != nil {
			b.Fatal(err)
		}
	}
	enc, _ := idx.MarshalBinary()
	perGiB := float64(1<<30) / float64(len(plain))
	b.ReportMetric(float64(len(enc))*perGiB, "checkpoints-B/GiB")
	b.ReportMetric(float64(idx.WindowBytes)*perGiB, "windows-B/GiB")
	b.ReportMetric(float64(len(idx.Checkpoints)), "checkpoints")
}

// BenchmarkGunzip is the plain gzip reader, against which the reads
// through an index compare.
func BenchmarkGunzip(b *testing.B) {
	plain, compressed := benchGzip()
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		zr, err := gzip.NewReader(bytes.NewReader(compressed))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadAt reads through Open: the whole content in order in 1 MiB
// reads, and 1 MiB reads at random offsets, each from the checkpoint before it.
func BenchmarkReadAt(b *testing.B) {
	plain, compressed := benchGzip()
	_, idx, err := index(compressed, Options{}, 0)
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 1<<20)
	b.Run("sequential", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			s, _ := Open(newMemSource(compressed), idx)
			for off := int64(0); off < s.Size(); off += int64(len(p)) {
				if _, err := s.ReadAt(p, off); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
			s.Close()
		}
	})
	b.Run("random", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		s, _ := Open(newMemSource(compressed), idx)
		r := rand.New(rand.NewPCG(1, 1))
		for b.Loop() {
			if _, err := s.ReadAt(p, r.Int64N(s.Size()-int64(len(p)))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
