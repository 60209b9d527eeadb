package archive

import (
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

// decompressBounded is decompress of r, failing once the output exceeds ratio
// times the compressed bytes that compressed, a reader beneath r, has read.
func decompressBounded(r io.Reader, c compression, compressed *byteCounter, ratio int64) (io.ReadCloser, error) {
	stream, err := decompress(r, c)
	if err != nil || c == uncompressed {
		return stream, err
	}
	return &boundedReader{ReadCloser: stream, format: c, compressed: compressed, ratio: ratio}, nil
}

// boundedReader is a decompressed stream that stops a decompression bomb.
type boundedReader struct {
	io.ReadCloser
	format     compression
	compressed *byteCounter
	ratio      int64
	n          int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if b.n/b.ratio > b.compressed.n {
		return n, fmt.Errorf("%w: %s data expands to more than %d times its compressed size (%d bytes from %d), a decompression bomb? (limit: Options.MaxSpoolRatio, ocitar --max-decompression-ratio)",
			ErrTooLarge, b.format, b.ratio, b.n, b.compressed.n)
	}
	return n, err
}
