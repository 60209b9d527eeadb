package archive

import (
	"compress/flate"
	"fmt"
	"io"
	"strings"

	"github.com/ocitar/ocitar/source/gzindex"
	"github.com/ocitar/ocitar/source/zstdseek"
)

// Compression is how a written archive is compressed.
type Compression int

const (
	// CompressionByName compresses as the file's name says: .tar.gz and
	// .tgz with gzip, .tar.zst and .tzst with zstd, anything else not.
	CompressionByName Compression = iota
	Uncompressed
	// Gzip writes one gzip member per tar entry (large entries in several)
	// and a table of the members, in empty members at the end, that
	// ocitar reads it in place by; gzip, pigz, tar -z and docker load
	// read it as any gzip.
	Gzip
	// Zstd writes the zstd seekable format: a frame per tar entry (large
	// entries in several) and a seek table in a skippable frame; every zstd
	// decoder reads it as any zstd.
	Zstd
)

// ParseCompression parses the name of a compression: none, gzip or zstd.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "none":
		return Uncompressed, nil
	case "gzip":
		return Gzip, nil
	case "zstd":
		return Zstd, nil
	}
	return 0, fmt.Errorf("unknown archive compression %q: give none, gzip or zstd", s)
}

func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "none"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "by name"
}

// For is the compression c gives a file named name.
func (c Compression) For(name string) Compression {
	if c != CompressionByName {
		return c
	}
	switch {
	case strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".tgz"):
		return Gzip
	case strings.HasSuffix(name, ".zst") || strings.HasSuffix(name, ".tzst"):
		return Zstd
	}
	return Uncompressed
}

// FramedOutput is an output compressed in frames a reader can enter on their
// own. A Writer over one ends a frame before each entry, so that every entry
// can be entered where it starts.
type FramedOutput interface {
	io.Writer
	EndFrame() error
}

// NewCompressor compresses what is written to it into out, as c says, in
// frames a Writer ends at each entry. Close finishes the compressed stream
// (writing its table), not out. For Uncompressed it is out itself, which
// Close leaves alone.
func NewCompressor(out io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		return gzindex.NewWriter(out, flate.DefaultCompression)
	case Zstd:
		return zstdseek.NewWriter(out, zstdDefaultLevel)
	}
	return nopCloser{out}, nil
}

// zstdDefaultLevel is zstd's own default level, 3.
const zstdDefaultLevel = 3

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
