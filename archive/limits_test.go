package archive

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// TestOptionsLimits: the entry and decompression limits refuse what exceeds
// them, with ErrTooLarge, and Options raise them.
func TestOptionsLimits(t *testing.T) {
	gzipBomb := gzipBytes(append(twoImages().Tar(t), make([]byte, 8<<20)...)) // a sound layout, then 8 MiB of zeros
	legacyBomb, _, err := fuzzDockerSave(bytes.Repeat([]byte("a"), 8<<20), 1, "bomb:1", 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		opts Options
		err  error // nil: opens
	}{
		{"entries within the default", twoImages().Tar(t), Options{}, nil},
		{"more entries than MaxEntries", twoImages().Tar(t), Options{MaxEntries: 3}, ErrTooLarge},
		{"entries up to MaxEntries", twoImages().Tar(t), Options{MaxEntries: len(twoImages().Files)}, nil},
		{"gzip archive expanding 1000x", gzipBomb, Options{}, ErrTooLarge},
		{"gzip archive, MaxSpoolRatio raised", gzipBomb, Options{MaxSpoolRatio: 2000}, nil},
		{"gzip docker-save layer expanding 1000x", legacyBomb, Options{}, ErrTooLarge},
		{"gzip docker-save layer, MaxSpoolRatio raised", legacyBomb, Options{MaxSpoolRatio: 2000}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.TempDir = t.TempDir()
			r, err := Open(writeFile(t, "in.tar", tt.data), opts)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Open: %v, want %v", err, tt.err)
			}
			if err == nil {
				r.Close()
			}
			if spooled, _ := os.ReadDir(opts.TempDir); len(spooled) != 0 {
				t.Errorf("%d spool files left in TempDir", len(spooled))
			}
		})
	}
}

// TestOpenStreamLimitsDecompression: a bomb read from a stream is refused too.
func TestOpenStreamLimitsDecompression(t *testing.T) {
	bomb := gzipBytes(make([]byte, 8<<20))
	if _, err := OpenStream(bytes.NewReader(bomb), "stdin", Options{TempDir: t.TempDir()}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("OpenStream: %v, want %v", err, ErrTooLarge)
	}
}
