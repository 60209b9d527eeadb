package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"io"
	"maps"
	"slices"
	"testing"
	"testing/iotest"
)

// framedBuffer is a FramedOutput that records where each frame ends.
type framedBuffer struct {
	bytes.Buffer
	ends []int64
}

func (f *framedBuffer) EndFrame() error {
	f.ends = append(f.ends, int64(f.Len()))
	return nil
}

func (f *framedBuffer) Close() error { return nil }

// headerOffsets are where archive/tar finds each header of data.
func headerOffsets(t *testing.T, data []byte) []int64 {
	t.Helper()
	var offsets []int64
	sr := &streamReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(sr)
	next := int64(0)
	for {
		offsets = append(offsets, next)
		hdr, err := tr.Next()
		if err == io.EOF {
			return offsets
		}
		if err != nil {
			t.Fatal(err)
		}
		next = sr.position() + blocks(physicalSize(hdr))
	}
}

func TestCopyFramed(t *testing.T) {
	large := make([]byte, 3000)
	data, err := tarOf(map[string][]byte{"a": []byte("x"), "b": large, "c": nil})
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, make([]byte, 4096)...) // padding to a record, as GNU tar writes
	for _, chunk := range []int{1, 7, 512, 1 << 20} {
		out := &framedBuffer{}
		if err := copyFramed(iotestChunks(data, chunk), out, Options{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("chunks of %d: the output differs from the input", chunk)
		}
		want := headerOffsets(t, data)[1:] // the first header starts the stream
		if !slices.Equal(out.ends, want) {
			t.Errorf("chunks of %d: frames end at %v, want the headers' offsets %v", chunk, out.ends, want)
		}
	}
}

// iotestChunks reads data at most n bytes at a time.
func iotestChunks(data []byte, n int) io.Reader {
	if n == 1 {
		return iotest.OneByteReader(bytes.NewReader(data))
	}
	return bufio.NewReaderSize(bytes.NewReader(data), max(n, 16))
}

// tarOf is a tar of files in name order.
func tarOf(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[name]))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	err := tw.Close()
	return buf.Bytes(), err
}
