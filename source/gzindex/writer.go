package gzindex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
)

// FrameSize is the most uncompressed bytes a Writer puts in one member.
const FrameSize = 4 << 20

// Writer writes gzip that ReadTable can enter without an index pass: a
// member per frame and a table of the members at the end. The same input,
// with EndFrame at the same offsets, gives the same bytes.
type Writer struct {
	w       *countingWriter
	fw      *flate.Writer
	open    bool   // a member is under way
	start   int64  // compressed offset of its header
	crc     uint32 // of its data so far
	size    int64  // of its data so far
	members []memberSize
	err     error
}

// memberSize is what the table records of a member.
type memberSize struct {
	compressed, uncompressed uint32
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewWriter compresses to w at a flate level (-2 to 9).
func NewWriter(w io.Writer, level int) (*Writer, error) {
	cw := &countingWriter{w: w}
	fw, err := flate.NewWriter(cw, level)
	if err != nil {
		return nil, fmt.Errorf("gzip writer: %w", err)
	}
	return &Writer{w: cw, fw: fw}, nil
}

// Write compresses p, ending a member every FrameSize bytes.
func (z *Writer) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && z.err == nil {
		if !z.open {
			z.startMember()
		}
		chunk := p[:min(int64(len(p)), FrameSize-z.size)]
		var n int
		n, z.err = z.fw.Write(chunk)
		z.crc = crc32.Update(z.crc, crc32.IEEETable, chunk[:n])
		z.size += int64(n)
		written += n
		p = p[n:]
		if z.size == FrameSize {
			z.EndFrame()
		}
	}
	return written, z.err
}

// memberHeader is the header of every member: no flags, no time, XFL 0,
// OS 255 (unknown).
var memberHeader = []byte{gzipID1, gzipID2, gzipDeflate, 0, 0, 0, 0, 0, 0, 255}

func (z *Writer) startMember() {
	z.open, z.start, z.crc, z.size = true, z.w.n, 0, 0
	if _, z.err = z.w.Write(memberHeader); z.err == nil {
		z.fw.Reset(z.w)
	}
}

// EndFrame ends the current member, so that the next byte written starts
// one. Without bytes written since the last, it does nothing.
func (z *Writer) EndFrame() error {
	if !z.open || z.err != nil {
		return z.err
	}
	z.open = false
	if z.err = z.fw.Close(); z.err != nil {
		return z.err
	}
	var t [trailerSize]byte
	binary.LittleEndian.PutUint32(t[:4], z.crc)
	binary.LittleEndian.PutUint32(t[4:], uint32(z.size))
	if _, z.err = z.w.Write(t[:]); z.err != nil {
		return z.err
	}
	z.members = append(z.members, memberSize{compressed: uint32(z.w.n - z.start), uncompressed: uint32(z.size)})
	return nil
}

// Close ends the last member and writes the table; it does not close the
// underlying writer.
func (z *Writer) Close() error {
	if err := z.EndFrame(); err != nil {
		return err
	}
	if len(z.members) > maxTableEntries {
		z.err = fmt.Errorf("gzip writer: %d members, more than a table holds (%d)", len(z.members), maxTableEntries)
		return z.err
	}
	if _, err := z.w.Write(encodeTable(z.members)); err != nil {
		z.err = err
		return err
	}
	z.err = errors.New("gzip writer: closed")
	return nil
}
