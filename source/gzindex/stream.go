package gzindex

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/ocitar/ocitar/internal/errkind"
)

const (
	gzipID1     = 0x1f
	gzipID2     = 0x8b
	gzipDeflate = 8

	flagHdrCRC  = 1 << 1
	flagExtra   = 1 << 2
	flagName    = 1 << 3
	flagComment = 1 << 4

	headerSize  = 10
	trailerSize = 8

	// readBuffer is how much compressed data a decoder reads ahead.
	readBuffer = 64 << 10
)

// events receives what a stream passes, in stream order.
type events interface {
	// blockEnd is the end of a deflate block that is not the last of its member.
	blockEnd(cp flate.InflateCheckpoint)
	// memberStart is a member header at compressed offset c, whose data starts at uncompressed offset u.
	memberStart(c, u int64)
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

// stream decodes a run of gzip members, checking each trailer, and tells
// its events where each block and member starts.
type stream struct {
	cr     *countingReader
	br     *bufio.Reader
	base   int64 // compressed offset of the first byte cr reads
	ev     events
	fr     io.ReadCloser // the current member's deflate data; nil between members
	skew   int64         // how far the compressed offsets fr reports run ahead, see blockEnd
	err    error         // the first error, returned from then on
	out    int64         // uncompressed offset of the next byte
	member member
}

// member is what a stream knows of the member it is in.
type member struct {
	out      int64 // uncompressed offset of its first byte
	crc      uint32
	checkCRC bool // the stream entered the member at its start, so crc is its CRC32 so far
}

// newStream decodes r, whose first byte is at compressed offset base and
// at uncompressed offset out, a member header.
func newStream(r io.Reader, base, out int64, ev events) *stream {
	cr := &countingReader{r: r}
	return &stream{cr: cr, br: bufio.NewReaderSize(cr, readBuffer), base: base, ev: ev, out: out}
}

// pos is the compressed offset of the next byte the stream decodes.
func (s *stream) pos() int64 { return s.base + s.cr.n - int64(s.br.Buffered()) }

// resume enters the member whose data starts at uncompressed offset
// memberOut at the block boundary cp, which needs the window of cp.
func (s *stream) resume(cp flate.InflateCheckpoint, memberOut int64) {
	s.member = member{out: memberOut}
	s.skew = 0
	s.fr = flate.NewReaderOpts(s.br, flate.WithResumeFrom(cp), flate.WithEobCallback(s.blockEnd))
}

// blockEnd passes on the end of a block that is not final, with its
// compressed offset corrected: flate (klauspost/compress v1.20.3) counts
// twice the bytes of a stored block's length that its bit buffer already
// held, so that the offsets it reports run ahead of the stream by s.skew
// bytes after such a block. Its bit buffer holds 0 to 32 bits, and none
// at the end of a stored block, so a report ahead of the bytes read by
// more than the skew so far is the end of a stored block that added to it.
func (s *stream) blockEnd(cp flate.InflateCheckpoint) {
	read := s.pos()
	reported := cp.CompressedOffset*8 + int64(cp.BitOffset)
	if (read+s.skew)*8 < reported {
		s.skew = reported/8 - read
	}
	bit := reported - s.skew*8
	cp.CompressedOffset, cp.BitOffset = bit/8, uint8(bit&7)
	if !cp.Final {
		s.ev.blockEnd(cp)
	}
}

// Read reads uncompressed bytes, going on from member to member. It
// returns io.EOF where a member ends and no bytes follow. Past an error it
// returns that error, and a read that ends a member whose trailer is wrong
// returns none of the member's last bytes, so that io.ReadFull reports it.
func (s *stream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.read(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

func (s *stream) read(p []byte) (int, error) {
	for len(p) > 0 {
		if s.fr == nil {
			if err := s.startMember(); err != nil {
				return 0, err
			}
		}
		n, err := s.fr.Read(p)
		s.out += int64(n)
		if s.member.checkCRC {
			s.member.crc = crc32.Update(s.member.crc, crc32.IEEETable, p[:n])
		}
		switch {
		case err == io.EOF:
			if err := s.endMember(); err != nil {
				return 0, err
			}
		case err != nil:
			return n, s.inflateError(err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, nil
}

// startMember reads a member header and starts inflating its data.
func (s *stream) startMember() error {
	start := s.pos()
	if _, err := s.br.Peek(1); err == io.EOF {
		return io.EOF
	}
	if err := s.readHeader(); err != nil {
		return fmt.Errorf("at compressed offset %d: %w", start, err)
	}
	s.member = member{out: s.out, checkCRC: true}
	s.skew = 0
	s.ev.memberStart(start, s.out)
	cp := flate.InflateCheckpoint{UncompressedOffset: s.out, CompressedOffset: s.pos()}
	s.fr = flate.NewReaderOpts(s.br, flate.WithResumeFrom(cp), flate.WithEobCallback(s.blockEnd))
	return nil
}

// readHeader reads a member header as RFC 1952 section 2.3 lays it out.
func (s *stream) readHeader() error {
	var h [headerSize]byte
	if _, err := io.ReadFull(s.br, h[:]); err != nil {
		return s.headerError(err)
	}
	if h[0] != gzipID1 || h[1] != gzipID2 || h[2] != gzipDeflate {
		return fmt.Errorf("%w: not a gzip member header", errkind.ErrNotArchive)
	}
	flg := h[3]
	if flg>>5 != 0 {
		return fmt.Errorf("%w: gzip header with reserved flags %#x", errkind.ErrNotArchive, flg)
	}
	if flg&flagExtra != 0 {
		if err := s.skipExtra(); err != nil {
			return s.headerError(err)
		}
	}
	for _, f := range []byte{flagName, flagComment} {
		if flg&f == 0 {
			continue
		}
		if _, err := s.br.ReadSlice(0); errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("%w: gzip header with a name or comment longer than %d bytes", errkind.ErrNotArchive, readBuffer)
		} else if err != nil {
			return s.headerError(err)
		}
	}
	if flg&flagHdrCRC != 0 {
		if _, err := s.br.Discard(2); err != nil {
			return s.headerError(err)
		}
	}
	return nil
}

func (s *stream) skipExtra() error {
	var xlen [2]byte
	if _, err := io.ReadFull(s.br, xlen[:]); err != nil {
		return err
	}
	_, err := s.br.Discard(int(binary.LittleEndian.Uint16(xlen[:])))
	return err
}

func (s *stream) headerError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated gzip header: %w", errkind.ErrNotArchive, io.ErrUnexpectedEOF)
	}
	return err
}

// endMember reads the trailer of the member whose deflate data just ended
// and checks it: the size always, the CRC32 when the stream read the
// member from its start.
func (s *stream) endMember() error {
	s.fr = nil
	end := s.pos()
	var t [trailerSize]byte
	if _, err := io.ReadFull(s.br, t[:]); err != nil {
		return fmt.Errorf("%w: truncated: the gzip stream ends at compressed offset %d, in the trailer of a member: %w",
			errkind.ErrNotArchive, s.pos(), io.ErrUnexpectedEOF)
	}
	crc, size := binary.LittleEndian.Uint32(t[:4]), binary.LittleEndian.Uint32(t[4:])
	if s.member.checkCRC && crc != s.member.crc {
		return fmt.Errorf("%w: the gzip member ending at compressed offset %d has CRC32 %08x, its trailer says %08x",
			errkind.ErrDigestMismatch, end, s.member.crc, crc)
	}
	if size != uint32(s.out-s.member.out) {
		return fmt.Errorf("%w: the gzip member ending at compressed offset %d holds %d bytes, its trailer says %d (modulo 2^32)",
			errkind.ErrSizeMismatch, end, uint32(s.out-s.member.out), size)
	}
	return nil
}

func (s *stream) inflateError(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.As(err, &corrupt):
		return fmt.Errorf("%w: corrupt deflate data before compressed offset %d", errkind.ErrNotArchive, s.pos())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated: the gzip stream ends at compressed offset %d, inside deflate data: %w",
			errkind.ErrNotArchive, s.pos(), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("inflating at compressed offset %d: %w", s.pos(), err)
}

// Close releases the decoder of the current member.
func (s *stream) Close() error {
	if s.fr != nil {
		return s.fr.Close()
	}
	return nil
}
