package malicious

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ocitar/ocitar/source/gzindex"
	"github.com/ocitar/ocitar/source/zstdseek"
)

// The compressed cases start from valid(), compressed as ocitar compresses
// (source/gzindex and source/zstdseek, a frame ending at each tar header),
// as another tool does (compress/gzip, a zstd stream in one frame), and then
// broken in one place.

// framedWriter is ocitar's gzip or zstd writer: frames a reader enters on
// their own, and a table of them at the end.
type framedWriter interface {
	io.Writer
	EndFrame() error
	Close() error
}

func newOcitarGzip(w io.Writer) (framedWriter, error) { return gzindex.NewWriter(w, 6) }

func newOcitarZstd(w io.Writer) (framedWriter, error) { return zstdseek.NewWriter(w, 3) }

// entryAt is where an entry is in a tar, as archive/tar reads it: its first
// header (a PAX or GNU one, if any), its data, and the end of its data blocks.
type entryAt struct {
	name              string
	header, data, end int64 // end: where its data and padding end
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// entriesOf reads the entries of the tar data with archive/tar over a
// reader that counts the bytes it gives.
func entriesOf(data []byte) ([]entryAt, error) {
	cr := &countingReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	var entries []entryAt
	var header int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		e := entryAt{name: hdr.Name, header: header, data: cr.n, end: cr.n + (hdr.Size+511)/512*512}
		entries = append(entries, e)
		header = e.end
	}
}

// entryNamed is the entry of entries called name.
func entryNamed(entries []entryAt, name string) (entryAt, error) {
	for _, e := range entries {
		if e.name == name {
			return e, nil
		}
	}
	return entryAt{}, fmt.Errorf("no entry %s", name)
}

// headerCuts are the offsets at which ocitar ends a frame: where each tar
// header starts, and where the end-of-archive blocks start.
func headerCuts(entries []entryAt) []int64 {
	var cuts []int64
	for _, e := range entries {
		cuts = append(cuts, e.header)
	}
	return append(cuts, entries[len(entries)-1].end)
}

// compressFramed writes data through the writer newW makes, ending a frame
// at each of cuts (ascending offsets of data), and returns the compressed
// bytes and the compressed offset at which the frame starting at each cut
// starts.
func compressFramed(data []byte, newW func(io.Writer) (framedWriter, error), cuts []int64) ([]byte, []int64, error) {
	var buf bytes.Buffer
	w, err := newW(&buf)
	if err != nil {
		return nil, nil, err
	}
	starts := make([]int64, len(cuts))
	var pos int64
	for i, cut := range cuts {
		if _, err := w.Write(data[pos:cut]); err != nil {
			return nil, nil, err
		}
		if err := w.EndFrame(); err != nil {
			return nil, nil, err
		}
		starts[i], pos = int64(buf.Len()), cut
	}
	if _, err := w.Write(data[pos:]); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), starts, nil
}

// framedValid is valid() compressed by newW, a frame ending at each tar
// header as ocitar's writers frame it and, with splitData, also where the
// data of the layer starts, so that the layer's data has a frame of its
// own. It returns the compressed bytes and the compressed offsets at which
// the layer's frame starts (that of its header, or with splitData of its
// data) and the frame after it starts.
func framedValid(newW func(io.Writer) (framedWriter, error), splitData bool) (out []byte, layer, next int64, err error) {
	plain, err := valid()
	if err != nil {
		return nil, 0, 0, err
	}
	entries, err := entriesOf(plain)
	if err != nil {
		return nil, 0, 0, err
	}
	l := newLayout(0, 0)
	e, err := entryNamed(entries, blobPath(l.layer.Digest))
	if err != nil {
		return nil, 0, 0, err
	}
	cuts := headerCuts(entries)
	start := e.header
	if splitData {
		for i := range cuts {
			if cuts[i] == e.header {
				cuts = append(cuts[:i+1], append([]int64{e.data}, cuts[i+1:]...)...)
				break
			}
		}
		start = e.data
	}
	out, starts, err := compressFramed(plain, newW, cuts)
	if err != nil {
		return nil, 0, 0, err
	}
	for i, cut := range cuts {
		if cut == start {
			return out, starts[i], starts[i+1], nil
		}
	}
	return nil, 0, 0, errors.New("the layer starts no frame")
}

// cutInHalf is data without its second half.
func cutInHalf(build func() ([]byte, error)) func() ([]byte, error) {
	return func() ([]byte, error) {
		data, err := build()
		if err != nil {
			return nil, err
		}
		return data[:len(data)/2], nil
	}
}

// foreignGzip is valid() as gzip writes it: one member, without a table.
func foreignGzip() ([]byte, error) {
	plain, err := valid()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(plain); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ocitarZstd is valid() as ocitar writes zstd: a frame per entry and a seek table.
func ocitarZstd() ([]byte, error) {
	out, _, _, err := framedValid(newOcitarZstd, false)
	return out, err
}

// singleFrameZstd is valid() as a zstd stream: one frame, which does not
// record its size, as zstd -T0 writes from a pipe.
func singleFrameZstd() ([]byte, error) {
	plain, err := valid()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(plain); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// corruptSingleFrame is valid() as one zstd frame that does not record its
// size, a block per entry, whose content checksum, its last byte, is wrong:
// the frame cannot be entered, so it is decompressed once, which puts
// every file into the cache before the checksum fails.
func corruptSingleFrame() ([]byte, error) {
	plain, err := valid()
	if err != nil {
		return nil, err
	}
	entries, err := entriesOf(plain)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	var pos int64
	for _, cut := range headerCuts(entries)[1:] {
		if _, err := zw.Write(plain[pos:cut]); err != nil {
			return nil, err
		}
		if err := zw.Flush(); err != nil {
			return nil, err
		}
		pos = cut
	}
	if _, err := zw.Write(plain[pos:]); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	out[len(out)-1] ^= 1
	return out, nil
}

// corruptDeflateBlock gives the first deflate block of the member holding
// the layer's data the reserved block type (RFC 1951 3.2.3: BTYPE 11), so
// that inflating it fails there; the tar headers, in other members, still
// read.
func corruptDeflateBlock() ([]byte, error) {
	out, layer, _, err := framedValid(newOcitarGzip, true)
	if err != nil {
		return nil, err
	}
	out[layer+10] |= 0b110 // after the 10-byte member header
	return out, nil
}

// corruptZstdFrame gives the first block of the frame holding the layer's
// data the reserved block type (RFC 8878 3.1.1.2: Block_Type 3), so that
// decoding it fails there; the tar headers, in other frames, still read.
func corruptZstdFrame() ([]byte, error) {
	out, layer, _, err := framedValid(newOcitarZstd, true)
	if err != nil {
		return nil, err
	}
	fhd := out[layer+4]
	singleSegment := fhd>>5&1 == 1
	window := 1
	if singleSegment {
		window = 0
	}
	dictID := []int{0, 1, 2, 4}[fhd&3]
	fcs := []int{0, 2, 4, 8}[fhd>>6]
	if fcs == 0 && singleSegment {
		fcs = 1
	}
	out[layer+4+1+int64(window+dictID+fcs)] |= 0b110
	return out, nil
}

// gzipTrailer changes the trailer of the member holding the layer, as
// ocitar frames it (its header and data): the CRC32 (field 0) or the ISIZE
// (field 4) gains one. The headers, read at their start, never reach it.
func gzipTrailer(field int) func() ([]byte, error) {
	return func() ([]byte, error) {
		out, _, next, err := framedValid(newOcitarGzip, false)
		if err != nil {
			return nil, err
		}
		at := out[next-8+int64(field):][:4]
		binary.LittleEndian.PutUint32(at, binary.LittleEndian.Uint32(at)+1)
		return out, nil
	}
}

// seekTable is the seek table at the end of an ocitar zstd: its entries,
// 12 bytes each (the checksum flag set), and its footer.
type seekTable struct {
	data    []byte
	entries []byte // of data
	footer  []byte // of data
}

func ocitarSeekTable() (*seekTable, error) {
	data, err := ocitarZstd()
	if err != nil {
		return nil, err
	}
	footer := data[len(data)-9:]
	n := int(binary.LittleEndian.Uint32(footer))
	return &seekTable{data: data, entries: data[len(data)-9-12*n : len(data)-9], footer: footer}, nil
}

// addCompressed adds delta to the compressed size entry i lists.
func (t *seekTable) addCompressed(i int, delta int32) {
	e := t.entries[12*i:][:4]
	binary.LittleEndian.PutUint32(e, uint32(int32(binary.LittleEndian.Uint32(e))+delta))
}

// seekTableSizesDoNotAddUp: one frame claims a byte more than it takes.
func seekTableSizesDoNotAddUp() ([]byte, error) {
	t, err := ocitarSeekTable()
	if err != nil {
		return nil, err
	}
	t.addCompressed(1, 1)
	return t.data, nil
}

// seekTableShiftedFrames: the sizes add up, but the layer's frame (the
// second) claims 7 bytes of the next, which then starts inside it.
func seekTableShiftedFrames() ([]byte, error) {
	t, err := ocitarSeekTable()
	if err != nil {
		return nil, err
	}
	t.addCompressed(1, 7)
	t.addCompressed(2, -7)
	return t.data, nil
}

// seekTableLargerThanFile: the footer lists more frames than the file holds bytes.
func seekTableLargerThanFile() ([]byte, error) {
	t, err := ocitarSeekTable()
	if err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint32(t.footer, 1<<16)
	return t.data, nil
}
