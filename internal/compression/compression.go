package compression

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ocitar/ocitar/internal/errkind"
)

// Format is how a stream is compressed, detected from its first bytes.
type Format int

const (
	Uncompressed Format = iota
	Gzip
	Zstd
)

// HeadSize is how many first bytes of a stream Detect needs.
const HeadSize = 4

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func (c Format) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "uncompressed"
}

func Detect(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic), isZstdSkippable(head):
		return Zstd
	}
	return Uncompressed
}

// isZstdSkippable reports whether head starts a zstd skippable frame
// (magic 0x184D2A50 to 0x184D2A5F), as pzstd's output does.
func isZstdSkippable(head []byte) bool {
	return len(head) >= 4 && head[0]&0xf0 == 0x50 && head[1] == 0x2a && head[2] == 0x4d && head[3] == 0x18
}

// DetectAt reads the first bytes of the size bytes at off in ra.
func DetectAt(ra io.ReaderAt, off, size int64) (Format, error) {
	head := make([]byte, min(int64(HeadSize), size))
	if _, err := ra.ReadAt(head, off); err != nil && err != io.EOF {
		return Uncompressed, err
	}
	return Detect(head), nil
}

// Decompress returns the uncompressed stream of r.
func Decompress(r io.Reader, c Format) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// byteCounter counts the bytes read through it, and keeps the error of
// the reader it reads, if any.
type byteCounter struct {
	r   io.Reader
	n   int64
	err error
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// OpenDecompressed detects the compression of r from its first bytes and
// returns r decompressed, failing once the output exceeds ratio times the
// compressed bytes consumed, so that a decompression bomb stops early. r is
// read ahead through a buffer of bufSize bytes, the least read to detect.
func OpenDecompressed(r io.Reader, bufSize int, ratio int64) (io.ReadCloser, Format, error) {
	compressed := &byteCounter{r: r}
	br := bufio.NewReaderSize(compressed, bufSize)
	head, err := br.Peek(HeadSize)
	if err != nil && err != io.EOF {
		return nil, Uncompressed, err
	}
	c := Detect(head)
	stream, err := Decompress(br, c)
	if err != nil || c == Uncompressed {
		return stream, c, err
	}
	consumed := func() int64 { return compressed.n - int64(br.Buffered()) }
	return &boundedReader{ReadCloser: stream, format: c, consumed: consumed, source: compressed, ratio: ratio}, c, nil
}

// boundedReader is a decompressed stream that stops a decompression bomb.
type boundedReader struct {
	io.ReadCloser
	format   Format
	consumed func() int64 // compressed bytes read so far
	source   *byteCounter
	ratio    int64
	n        int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err := CheckRatio(b.format, b.ratio, b.n, b.consumed()); err != nil {
		return n, err
	}
	if err != nil && err != io.EOF && b.source.err == nil { // the decoder's, not the reader's
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return n, fmt.Errorf("%w: truncated: the %s data ends after %d compressed bytes: %w", errkind.ErrNotArchive, b.format, b.consumed(), err)
		}
		return n, fmt.Errorf("%w: corrupt %s data, before compressed offset %d: %w", errkind.ErrNotArchive, b.format, b.consumed(), err)
	}
	return n, err
}

// CheckRatio fails when n bytes of output from consumed bytes of data
// compressed as format exceed ratio times consumed: a decompression bomb.
func CheckRatio(format Format, ratio, n, consumed int64) error {
	if n/ratio > consumed {
		return fmt.Errorf("%w: %s data expands to more than %d times its compressed size (%d bytes from %d), a decompression bomb? (limit: Options.MaxSpoolRatio, ocitar --max-decompression-ratio)",
			errkind.ErrTooLarge, format, ratio, n, consumed)
	}
	return nil
}
