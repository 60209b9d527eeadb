package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compression is how a stream is compressed, detected from its first bytes.
type compression int

const (
	uncompressed compression = iota
	gzipCompressed
	zstdCompressed
)

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func (c compression) String() string {
	switch c {
	case gzipCompressed:
		return "gzip"
	case zstdCompressed:
		return "zstd"
	}
	return "uncompressed"
}

func detectCompression(head []byte) compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return gzipCompressed
	case bytes.HasPrefix(head, zstdMagic):
		return zstdCompressed
	}
	return uncompressed
}

// detectCompressionAt reads the first bytes of the size bytes at off in ra.
func detectCompressionAt(ra io.ReaderAt, off, size int64) (compression, error) {
	head := make([]byte, min(int64(len(zstdMagic)), size))
	if _, err := ra.ReadAt(head, off); err != nil && err != io.EOF {
		return uncompressed, err
	}
	return detectCompression(head), nil
}

// decompress returns the uncompressed stream of r.
func decompress(r io.Reader, c compression) (io.ReadCloser, error) {
	switch c {
	case gzipCompressed:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case zstdCompressed:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// byteCounter counts the bytes read through it.
type byteCounter struct {
	r io.Reader
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openDecompressed detects the compression of r from its first bytes and
// returns r decompressed, failing once the output exceeds ratio times the
// compressed bytes consumed, so that a decompression bomb stops early. r is
// read ahead through a buffer of bufSize bytes, the least read to detect.
func openDecompressed(r io.Reader, bufSize int, ratio int64) (io.ReadCloser, compression, error) {
	compressed := &byteCounter{r: r}
	br := bufio.NewReaderSize(compressed, bufSize)
	head, err := br.Peek(len(zstdMagic))
	if err != nil && err != io.EOF {
		return nil, uncompressed, err
	}
	c := detectCompression(head)
	stream, err := decompress(br, c)
	if err != nil || c == uncompressed {
		return stream, c, err
	}
	consumed := func() int64 { return compressed.n - int64(br.Buffered()) }
	return &boundedReader{ReadCloser: stream, format: c, consumed: consumed, ratio: ratio}, c, nil
}

// boundedReader is a decompressed stream that stops a decompression bomb.
type boundedReader struct {
	io.ReadCloser
	format   compression
	consumed func() int64 // compressed bytes read so far
	ratio    int64
	n        int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if consumed := b.consumed(); b.n/b.ratio > consumed {
		return n, fmt.Errorf("%w: %s data expands to more than %d times its compressed size (%d bytes from %d), a decompression bomb? (limit: Options.MaxSpoolRatio, ocitar --max-decompression-ratio)",
			ErrTooLarge, b.format, b.ratio, b.n, consumed)
	}
	return n, err
}
