package gzindex

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/ocitar/ocitar/internal/errkind"
)

// testTar writes a tar of a few files, one larger than FrameSize, to a
// Writer as archive.Writer does, a frame per entry, and returns the tar and
// the gzip.
func testTar(t *testing.T) (plain, compressed []byte) {
	var tarBuf, gz bytes.Buffer
	zw, err := NewWriter(&gz, 6)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(io.MultiWriter(&tarBuf, zw))
	files := []struct {
		name string
		data []byte
	}{
		{"index.json", []byte(`{"schemaVersion":2}`)},
		{"blobs/sha256/big", content(9<<20, 7)},
		{"blobs/sha256/empty", nil},
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	}
	for _, f := range files {
		if err := zw.EndFrame(); err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return tarBuf.Bytes(), gz.Bytes()
}

func TestWriterReaders(t *testing.T) {
	plain, compressed := testTar(t)
	path := filepath.Join(t.TempDir(), "test.tar.gz")
	if err := os.WriteFile(path, compressed, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			out, err := exec.Command(name, args...).Output()
			if err != nil {
				t.Fatalf("%s %v: %v", name, args, err)
			}
			return out
		}
	}
	goReader := func(open func(io.Reader) (io.Reader, error)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			r, err := open(bytes.NewReader(compressed))
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	tests := []struct {
		name string
		read func(t *testing.T) []byte
	}{
		{"gzip -dc", run("gzip", "-dc", path)},
		{"pigz -dc", run("pigz", "-dc", path)},
		{"compress/gzip", goReader(func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) })},
		{"klauspost gzip", goReader(func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) })},
		{"ReadTable", func(t *testing.T) []byte {
			idx, err := ReadTable(newMemSource(compressed))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(newMemSource(compressed), idx)
			if err != nil {
				t.Fatal(err)
			}
			readRandom(t, s, plain, 30, 4)
			out := make([]byte, s.Size())
			if _, err := s.ReadAt(out, 0); err != nil {
				t.Fatal(err)
			}
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.read(t); !bytes.Equal(got, plain) {
				t.Errorf("%d bytes, not the %d of the tar", len(got), len(plain))
			}
		})
	}
	t.Run("tar -tzf", func(t *testing.T) {
		out := run("tar", "-tzf", path)(t)
		if want := "index.json\nblobs/sha256/big\nblobs/sha256/empty\noci-layout\n"; string(out) != want {
			t.Errorf("tar -tzf lists %q, want %q", out, want)
		}
	})
}

func TestWriterReproducible(t *testing.T) {
	plain := content(9<<20, 8)
	write := func(chunk int) []byte {
		var b bytes.Buffer
		zw, err := NewWriter(&b, 6)
		if err != nil {
			t.Fatal(err)
		}
		for p := plain; len(p) > 0; p = p[min(chunk, len(p)):] {
			if _, err := zw.Write(p[:min(chunk, len(p))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	first := write(1 << 20)
	for _, chunk := range []int{1 << 20, 4096, 3 << 20} {
		if !bytes.Equal(write(chunk), first) {
			t.Errorf("written in chunks of %d: other bytes", chunk)
		}
	}
}

func TestWriterFrames(t *testing.T) {
	tests := []struct {
		name   string
		writes []int // sizes written, a negative one an EndFrame
		starts []int64
	}{
		{"one small frame", []int{100}, []int64{0}},
		{"EndFrame between writes", []int{100, -1, 200, -1, -1, 300}, []int64{0, 100, 300}},
		{"FrameSize in one write", []int{FrameSize*2 + 10}, []int64{0, FrameSize, 2 * FrameSize}},
		{"EndFrame then FrameSize", []int{10, -1, FrameSize + 1}, []int64{0, 10, 10 + FrameSize}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			zw, err := NewWriter(&b, 1)
			if err != nil {
				t.Fatal(err)
			}
			var size int64
			for _, n := range tt.writes {
				if n < 0 {
					err = zw.EndFrame()
				} else {
					_, err = zw.Write(make([]byte, n))
					size += int64(n)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			idx, err := ReadTable(newMemSource(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			var starts []int64
			for _, cp := range idx.Checkpoints {
				starts = append(starts, cp.Uncompressed)
			}
			if !reflect.DeepEqual(starts, tt.starts) || idx.Size != size {
				t.Errorf("members at %v of %d bytes, want %v of %d", starts, idx.Size, tt.starts, size)
			}
		})
	}
}

func TestNewWriterLevel(t *testing.T) {
	if _, err := NewWriter(io.Discard, 10); err == nil {
		t.Error("NewWriter took level 10")
	}
}

func TestReadTableBadInput(t *testing.T) {
	_, good := testTar(t)
	foot := len(good) - footerSize
	count := int(binary.LittleEndian.Uint32(good[foot+16+len(tableMagic)+4:]))
	tableStart := foot - tableSize(count)
	entry := func(i int) int { return tableStart + headerSize + 2 + 4 + i*entrySize }
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	putFooter := func(count int, tableLen int64) []byte {
		return mutate(func(b []byte) { copy(b[foot+16:], footerData(int(tableLen), count)) })
	}
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"a foreign gzip", goGzip(t, []byte("plain"), 6), ErrNoTable},
		{"a tiny file", good[len(good)-10:], ErrNoTable},
		{"truncated", good[:len(good)-1], ErrNoTable},
		{"another version", mutate(func(b []byte) { b[foot+16+len(tableMagic)] = 2 }), errkind.ErrInvalidMetadata},
		{"a count its length does not fit", putFooter(count+1, int64(tableSize(count))), errkind.ErrInvalidMetadata},
		{"a table larger than the file", putFooter(chunkEntries*100, int64(tableSize(chunkEntries*100))), errkind.ErrInvalidMetadata},
		{"too many entries", putFooter(maxTableEntries+1, int64(tableSize(maxTableEntries+1))), errkind.ErrInvalidMetadata},
		{"a malformed footer member", mutate(func(b []byte) { b[foot+3] = 0 }), errkind.ErrInvalidMetadata},
		{"a malformed table member", mutate(func(b []byte) { b[tableStart+13] = 'x' }), errkind.ErrInvalidMetadata},
		{"sizes that do not add up", mutate(func(b []byte) { b[entry(1)]++ }), errkind.ErrInvalidMetadata},
		{"an empty member", mutate(func(b []byte) {
			binary.LittleEndian.PutUint32(b[entry(2):], binary.LittleEndian.Uint32(b[entry(2):])+binary.LittleEndian.Uint32(b[entry(1):]))
			binary.LittleEndian.PutUint32(b[entry(1):], 0)
		}), errkind.ErrInvalidMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadTable(newMemSource(tt.input)); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			} else if !strings.HasPrefix(err.Error(), "test.tar.gz: ") {
				t.Errorf("err = %q, not naming the file", err)
			}
		})
	}
}

// TestReadTableLies reads through tables whose sizes add up but do not
// say where the members are.
func TestReadTableLies(t *testing.T) {
	plain, good := testTar(t)
	foot := len(good) - footerSize
	count := int(binary.LittleEndian.Uint32(good[foot+16+len(tableMagic)+4:]))
	entry := foot - tableSize(count) + headerSize + 2 + 4
	swapped := bytes.Clone(good)
	copy(swapped[entry:], good[entry+entrySize:entry+2*entrySize])
	copy(swapped[entry+entrySize:], good[entry:entry+entrySize])
	idx, err := ReadTable(newMemSource(swapped))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(newMemSource(swapped), idx)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, len(plain))
	if _, err := s.ReadAt(p, 0); !errors.Is(err, ErrIndexMismatch) {
		t.Errorf("err = %v, want ErrIndexMismatch", err)
	}
}
