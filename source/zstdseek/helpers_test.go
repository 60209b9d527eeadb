package zstdseek

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// memSource is a Source over bytes in memory.
type memSource struct {
	*bytes.Reader
	name string
}

func newMem(name string, b []byte) memSource { return memSource{bytes.NewReader(b), name} }

func (m memSource) Identity() string { return "0123abcd" }
func (m memSource) Name() string     { return m.name }

// countingSource counts the reads of its Source.
type countingSource struct {
	memSource
	reads int
}

func (c *countingSource) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.memSource.ReadAt(p, off)
}

// testContent is n bytes, half of them random and half runs of one byte,
// the same for the same seed.
func testContent(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n)
	for len(b) < n {
		run := make([]byte, min(1+r.IntN(4096), n-len(b)))
		if r.IntN(2) == 0 {
			for i := range run {
				run[i] = byte(r.Uint32())
			}
		} else {
			c := byte(r.Uint32())
			for i := range run {
				run[i] = c
			}
		}
		b = append(b, run...)
	}
	return b
}

// seekable writes content in the seekable format, ending a frame at each
// of cuts.
func seekable(t testing.TB, content []byte, cuts ...int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, 3)
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, c := range append(cuts, len(content)) {
		if _, err := w.Write(content[last:c]); err != nil {
			t.Fatal(err)
		}
		if err := w.EndFrame(); err != nil {
			t.Fatal(err)
		}
		last = c
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// tool runs a command line with stdin and returns its output.
func tool(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v: %s (Debian package zstd, installed by hack/install-deps.sh)", name, args, err, stderr.Bytes())
	}
	return out
}

// compressFile runs zstd or pzstd on content kept in a file, as they
// compress a file rather than a pipe.
func compressFile(t testing.TB, content []byte, name string, args ...string) []byte {
	t.Helper()
	in := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(in, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return tool(t, nil, name, append(args, "-q", "-c", in)...)
}

// checkReads reads src at spread ranges and compares them with content.
func checkReads(t *testing.T, src io.ReaderAt, content []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	n := int64(len(content))
	ranges := [][2]int64{{0, n}, {0, 1}, {n - 1, 1}, {n / 2, n - n/2}}
	for range 40 {
		off := r.Int64N(n)
		ranges = append(ranges, [2]int64{off, min(1+r.Int64N(3<<20), n-off)})
	}
	for _, rg := range ranges {
		p := make([]byte, rg[1])
		if _, err := src.ReadAt(p, rg[0]); err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes at %d): %v", rg[1], rg[0], err)
		}
		if !bytes.Equal(p, content[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("ReadAt(%d bytes at %d): not the content", rg[1], rg[0])
		}
	}
}
