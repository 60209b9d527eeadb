package gzindex

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// memSource is a Source over bytes in memory.
type memSource struct {
	*bytes.Reader
	name string
}

func newMemSource(b []byte) *memSource { return &memSource{bytes.NewReader(b), "test.tar.gz"} }

func (m *memSource) Identity() string { return "mem" }
func (m *memSource) Name() string     { return m.name }

// content is n bytes, half of them in runs of words that compress well,
// half in runs of random bytes, as in an image of text and binaries.
func content(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"layer ", "blob ", "sha256:", "{\"config\": ", "usr/lib/", "\n", "0000", "manifest "}
	b := make([]byte, 0, n)
	for len(b) < n {
		run := r.IntN(64 << 10)
		if r.IntN(2) == 0 {
			for end := len(b) + run; len(b) < end; {
				b = append(b, words[r.IntN(len(words))]...)
			}
		} else {
			for range run {
				b = append(b, byte(r.Uint32()))
			}
		}
	}
	return b[:n]
}

// compressor makes one form of gzip of plain.
type compressor func(t testing.TB, plain []byte) []byte

func command(name string, args ...string) compressor {
	return func(t testing.TB, plain []byte) []byte {
		cmd := exec.Command(name, args...)
		cmd.Stdin = bytes.NewReader(plain)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		return out
	}
}

// multiMember is a gzip member of each stretch of plain between the
// offsets cuts, with an empty member among them.
func multiMember(cuts ...int) compressor {
	return func(t testing.TB, plain []byte) []byte {
		var out []byte
		start := 0
		for i, end := range append(cuts, len(plain)) {
			out = append(out, goGzip(t, plain[start:min(end, len(plain))], 6)...)
			if i == 0 {
				out = append(out, goGzip(t, nil, 6)...)
			}
			start = min(end, len(plain))
		}
		return out
	}
}

func goGzip(t testing.TB, plain []byte, level int) []byte {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(plain)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bgzf is plain in BGZF blocks, as htslib's bgzip writes them: members of
// up to 65280 bytes whose extra field "BC" gives the member's size less
// one, then the empty end-of-file block.
func bgzf(t testing.TB, plain []byte) []byte {
	var out []byte
	for len(plain) > 0 {
		n := min(len(plain), 65280)
		out = append(out, bgzfBlock(t, plain[:n])...)
		plain = plain[n:]
	}
	return append(out, bgzfBlock(t, nil)...)
}

func bgzfBlock(t testing.TB, data []byte) []byte {
	var body bytes.Buffer
	fw, _ := flate.NewWriter(&body, 6)
	fw.Write(data)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	b := []byte{gzipID1, gzipID2, gzipDeflate, flagExtra, 0, 0, 0, 0, 0, 255, 6, 0, 'B', 'C', 2, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(b)+2+body.Len()+trailerSize-1))
	b = append(b, body.Bytes()...)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(data))
	return binary.LittleEndian.AppendUint32(b, uint32(len(data)))
}

// ocitarGzip is plain written by Writer, with a frame ended at each of cuts.
func ocitarGzip(cuts ...int) compressor {
	return func(t testing.TB, plain []byte) []byte {
		var b bytes.Buffer
		zw, err := NewWriter(&b, 6)
		if err != nil {
			t.Fatal(err)
		}
		start := 0
		for _, end := range append(cuts, len(plain)) {
			end = min(end, len(plain))
			if _, err := zw.Write(plain[start:end]); err != nil {
				t.Fatal(err)
			}
			if err := zw.EndFrame(); err != nil {
				t.Fatal(err)
			}
			start = end
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
}

// index runs an Indexer over compressed to its end, marking each of marks
// once the read has gone lag bytes past it.
func index(compressed []byte, opts Options, lag int64, marks ...int64) ([]byte, *Index, error) {
	ix := NewIndexer(bytes.NewReader(compressed), opts)
	var out []byte
	buf := make([]byte, 100_000)
	for {
		n, err := ix.Read(buf)
		out = append(out, buf[:n]...)
		for len(marks) > 0 && marks[0]+lag <= int64(len(out)) {
			ix.Mark(marks[0])
			marks = marks[1:]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, nil, err
		}
	}
	for _, m := range marks {
		ix.Mark(m)
	}
	idx, err := ix.Finish()
	return out, idx, err
}

// readRandom reads count random ranges of s and compares them with plain.
func readRandom(t testing.TB, s io.ReaderAt, plain []byte, count int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	for range count {
		off := r.Int64N(int64(len(plain)) + 1)
		n := r.Int64N(min(int64(len(plain))-off, 1<<20) + 1)
		p := make([]byte, n)
		got, err := s.ReadAt(p, off)
		if err != nil && !(err == io.EOF && off+n == int64(len(plain))) {
			t.Fatalf("ReadAt(%d bytes, %d): %v", n, off, err)
		}
		if !bytes.Equal(p[:got], plain[off:off+int64(got)]) || int64(got) != n {
			t.Fatalf("ReadAt(%d bytes, %d): %d bytes, not the plain ones", n, off, got)
		}
	}
}
