package gzindex

import (
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/source"
)

// ErrIndexMismatch is what reads through an index fail with when the
// stream has no block end or member where the index says: the index is
// stale or forged, and should be rebuilt. It comes with
// errkind.ErrInvalidMetadata.
var ErrIndexMismatch = errors.New("index does not reproduce the data")

// Open presents the uncompressed content of the gzip stream src as a
// Source, entering src at the checkpoints of idx, which must have been
// made for it. The content's identity is src's with "-gz" appended. A
// window is read from idx.Windows when a read enters the stream at its
// checkpoint; one that does not match its checksum fails that read, with
// errkind.ErrInvalidMetadata.
func Open(src source.Source, idx *Index) (*source.Spans, error) {
	if err := idx.Validate(src.Size()); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name(), err)
	}
	o := &opener{src: src, idx: idx}
	return source.NewSpans(src.Name(), src.Identity()+"-gz", idx.spans(), o.open)
}

type opener struct {
	src source.Source
	idx *Index
}

// open starts a decoder at checkpoint i, which checks the checkpoints
// after it as it passes them.
func (o *opener) open(i int) (io.ReadCloser, error) {
	cp := o.idx.Checkpoints[i]
	sr := io.NewSectionReader(o.src, cp.Compressed, o.idx.Compressed-cp.Compressed)
	v := &verifier{next: o.idx.Checkpoints[i+1:]}
	s := newStream(sr, cp.Compressed, cp.Uncompressed, v)
	if cp.MemberStart {
		return &verifiedStream{s, v}, nil
	}
	memberOut := o.memberOut(i)
	w, err := o.idx.readWindow(cp, windowLen(cp.Uncompressed, memberOut))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip index: checkpoint %d: %w", errkind.ErrInvalidMetadata, i, err)
	}
	s.resume(flate.InflateCheckpoint{
		UncompressedOffset: cp.Uncompressed,
		CompressedOffset:   cp.Compressed,
		BitOffset:          cp.Bit,
		Window:             w,
	}, memberOut)
	return &verifiedStream{s, v}, nil
}

// memberOut is the uncompressed offset at which the member of checkpoint i starts.
func (o *opener) memberOut(i int) int64 {
	for !o.idx.Checkpoints[i].MemberStart {
		i--
	}
	return o.idx.Checkpoints[i].Uncompressed
}

// verifier checks that a stream passes the checkpoints next where they say.
type verifier struct {
	next []Checkpoint
	err  error
}

func (v *verifier) blockEnd(cp flate.InflateCheckpoint) {
	v.event(cp.UncompressedOffset, cp.CompressedOffset, cp.BitOffset, false)
}

func (v *verifier) memberStart(c, u int64) { v.event(u, c, 0, true) }

// event checks the next checkpoint against a block end or member start
// at uncompressed offset u, compressed offset c and bit. Of several at
// one offset the index holds the first, or the member start.
func (v *verifier) event(u, c int64, bit uint8, member bool) {
	if v.err != nil || len(v.next) == 0 {
		return
	}
	cp := v.next[0]
	switch {
	case u < cp.Uncompressed, u == cp.Uncompressed && member != cp.MemberStart:
		return
	case u > cp.Uncompressed:
		v.err = fmt.Errorf("%w: %w: no block or member starts at uncompressed offset %d", errkind.ErrInvalidMetadata, ErrIndexMismatch, cp.Uncompressed)
	case c != cp.Compressed || bit != cp.Bit:
		v.err = fmt.Errorf("%w: %w: what starts at uncompressed offset %d is at compressed offset %d bit %d, not %d bit %d",
			errkind.ErrInvalidMetadata, ErrIndexMismatch, u, c, bit, cp.Compressed, cp.Bit)
	}
	v.next = v.next[1:]
}

// verifiedStream is a stream that fails once it passes a checkpoint that
// is not where its index says, returning none of the bytes of the read
// that passed it.
type verifiedStream struct {
	*stream
	v *verifier
}

func (s *verifiedStream) Read(p []byte) (int, error) {
	n, err := s.stream.Read(p)
	if s.v.err != nil {
		return 0, s.v.err
	}
	return n, err
}
