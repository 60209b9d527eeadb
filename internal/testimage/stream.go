package testimage

import (
	"archive/tar"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Content says what the file of a streamed layer holds.
type Content int

const (
	// Random is incompressible PCG output.
	Random Content = iota
	// Text is numbered lines of text, which gzip shrinks about fourfold.
	Text
	// Repeated is one 1 MiB block of random bytes, stamped with its number:
	// as cheap to generate as a copy, and incompressible within gzip's window.
	Repeated
)

// LayerSpec describes a layer of any size that [WriteLayer] streams without
// holding it in memory.
type LayerSpec struct {
	Seed    uint64
	Size    int64 // of the layer's one file
	Content Content
}

const streamChunk = 1 << 20

// WriteLayer writes the layer tar of spec: one file data/SEED.bin of spec.Size
// bytes, owned by root with a zero timestamp. The same spec gives the same bytes.
func WriteLayer(w io.Writer, spec LayerSpec) error {
	tw := tar.NewWriter(w)
	hdr := &tar.Header{Name: fmt.Sprintf("data/%d.bin", spec.Seed), Typeflag: tar.TypeReg, Mode: 0o644, Size: spec.Size, Format: tar.FormatPAX}
	if spec.Size < 1<<33 {
		hdr.Format = tar.FormatUSTAR
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	chunk := firstChunk(spec)
	for n, left := uint64(0), spec.Size; left > 0; n++ {
		stampChunk(chunk, spec, n)
		part := chunk[:min(int64(len(chunk)), left)]
		if _, err := tw.Write(part); err != nil {
			return err
		}
		left -= int64(len(part))
	}
	return tw.Close()
}

// firstChunk is the block Text and Repeated layers repeat, stamped per chunk.
func firstChunk(spec LayerSpec) []byte {
	if spec.Content != Text {
		return pseudoRandom(spec.Seed, streamChunk)
	}
	chunk := make([]byte, 0, streamChunk+100)
	for i := 0; len(chunk) < streamChunk; i++ {
		chunk = fmt.Appendf(chunk, "%07d layer %d: the quick brown fox jumps over the lazy dog %x\n", i, spec.Seed, i*i)
	}
	return chunk[:streamChunk]
}

// stampChunk makes chunk n of a layer differ from every other chunk: Random
// regenerates it, Text and Repeated write n into its first bytes.
func stampChunk(chunk []byte, spec LayerSpec, n uint64) {
	switch spec.Content {
	case Random:
		if n > 0 {
			copy(chunk, pseudoRandom(spec.Seed<<32|n, streamChunk))
		}
	case Text:
		copy(chunk, fmt.Sprintf("%-16s", strconv.FormatUint(n, 10)))
	case Repeated:
		binary.LittleEndian.PutUint64(chunk, n)
	}
}
