package gzindex

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sort"

	"github.com/klauspost/compress/flate"
	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/internal/errkind"
)

const (
	// DefaultSpacing is Options.Spacing when it is 0.
	DefaultSpacing = 4 << 20
	// DefaultMaxRatio is Options.MaxRatio when it is 0, archive.DefaultMaxSpoolRatio.
	DefaultMaxRatio = 100

	// horizon is how much of the uncompressed output an Indexer keeps, and
	// so how far behind the output a Mark still gets the block end before
	// it.
	horizon = 4 << 20
	// minGap is the least distance between the block ends an Indexer
	// considers, which bounds how many it remembers: horizon/minGap.
	minGap = 1 << 10
	// maxRead bounds one Read, so that what it returns fits the horizon.
	maxRead = 1 << 20
)

// Options tunes an Indexer.
type Options struct {
	// Spacing is the most uncompressed bytes between two checkpoints
	// inside a member, where the deflate blocks allow; 0 means
	// DefaultSpacing.
	Spacing int64
	// MaxRatio is how many times the compressed bytes read the output may
	// reach before the pass fails as a decompression bomb; 0 means
	// DefaultMaxRatio.
	MaxRatio int64
	// Windows, when set, takes the windows of the checkpoints in the order
	// the Indexer keeps them, instead of the Indexer's memory; the caller
	// then sets the Windows of the index Finish returns to what they were
	// written to. A write error fails the pass.
	Windows io.Writer
}

// Indexer decompresses a gzip stream once, as an io.Reader, and indexes
// it on the way: a checkpoint at each member start, at the last block end
// at or before each offset given to Mark, and every Options.Spacing bytes.
type Indexer struct {
	s       *stream
	spacing int64
	ratio   int64
	ring    ring
	pk      packer
	windows io.Writer     // Options.Windows, or mem
	mem     *bytes.Buffer // the windows, unless Options.Windows takes them
	written int64         // bytes of windows written
	members int
	err     error

	memberOut int64   // uncompressed offset at which the current member's data starts
	lastSeen  int64   // uncompressed offset of the last event recorded
	queue     []event // events recorded whose window the output has not reached
	recent    []event // block ends whose window is still in the ring, in order
	seen      int64   // the highest offset of an event processed
	pending   []int64 // offsets given to Mark that no event has passed yet, in order
	kept      []Checkpoint
}

// event is a block end or a member start, as recorded by an Indexer.
type event struct {
	out, in   int64 // uncompressed and compressed offsets
	bit       uint8
	member    bool
	memberOut int64 // where the data of the event's member starts
}

// NewIndexer indexes the gzip stream compressed.
func NewIndexer(compressed io.Reader, opts Options) *Indexer {
	ix := &Indexer{spacing: opts.Spacing, ratio: opts.MaxRatio, ring: ring{size: horizon}, seen: -1, windows: opts.Windows}
	if ix.windows == nil {
		ix.mem = new(bytes.Buffer)
		ix.windows = ix.mem
	}
	if ix.spacing <= 0 {
		ix.spacing = DefaultSpacing
	}
	if ix.ratio <= 0 {
		ix.ratio = DefaultMaxRatio
	}
	ix.s = newStream(compressed, 0, 0, ix)
	return ix
}

// Read reads the uncompressed stream. It fails at the first error of the
// stream, a decompression bomb included, and from then on.
func (ix *Indexer) Read(p []byte) (int, error) {
	if ix.err != nil {
		return 0, ix.err
	}
	n, err := ix.s.Read(p[:min(len(p), maxRead)])
	ix.ring.write(p[:n])
	if perr := ix.process(); perr != nil {
		err = perr
	}
	if err == nil {
		err = compression.CheckRatio(compression.Gzip, ix.ratio, ix.s.out, ix.s.pos())
	}
	if err == io.EOF && ix.members == 0 {
		err = fmt.Errorf("%w: empty, not gzip", errkind.ErrNotArchive)
	}
	if err != nil {
		ix.err = err
	}
	return n, err
}

// Mark asks for a checkpoint at the last block end at or before
// uncompressed offset off, which need not have been read yet. An offset
// more than a few MiB behind what Read returned gets an earlier one.
func (ix *Indexer) Mark(off int64) {
	if off >= ix.seen {
		i := sort.Search(len(ix.pending), func(i int) bool { return ix.pending[i] > off })
		ix.pending = slices.Insert(ix.pending, i, off)
		return
	}
	if err := ix.resolve(off); err != nil && ix.err == nil {
		ix.err = err
	}
}

// Finish reads the rest of the stream, checking it to its end, and returns
// its index.
func (ix *Indexer) Finish() (*Index, error) {
	buf := make([]byte, readBuffer)
	for {
		_, err := ix.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	for _, off := range ix.pending {
		if err := ix.resolve(off); err != nil {
			return nil, err
		}
	}
	ix.pending = nil
	idx := &Index{Checkpoints: ix.kept, Size: ix.s.out, Compressed: ix.s.pos(), WindowBytes: ix.written}
	if ix.mem != nil {
		idx.Windows = bytes.NewReader(ix.mem.Bytes())
	}
	return idx, nil
}

func (ix *Indexer) blockEnd(cp flate.InflateCheckpoint) {
	if cp.UncompressedOffset-ix.lastSeen < minGap {
		return
	}
	ix.lastSeen = cp.UncompressedOffset
	ix.queue = append(ix.queue, event{out: cp.UncompressedOffset, in: cp.CompressedOffset, bit: cp.BitOffset, memberOut: ix.memberOut})
}

func (ix *Indexer) memberStart(c, u int64) {
	ix.members++
	ix.memberOut, ix.lastSeen = u, u
	ix.queue = append(ix.queue, event{out: u, in: c, member: true, memberOut: u})
}

// process handles the events the output has reached, in order, then
// forgets the block ends whose windows left the ring.
func (ix *Indexer) process() error {
	n := 0
	for n < len(ix.queue) && ix.queue[n].out <= ix.ring.end {
		if err := ix.handle(ix.queue[n]); err != nil {
			return err
		}
		n++
	}
	ix.queue = slices.Delete(ix.queue, 0, n)
	drop := 0
	for drop < len(ix.recent) && !ix.ring.holds(ix.recent[drop].windowStart()) {
		drop++
	}
	if drop > 0 {
		ix.recent = slices.Delete(ix.recent, 0, drop)
	}
	return nil
}

// windowStart is the uncompressed offset of the first byte of e's window.
func (e event) windowStart() int64 { return e.out - int64(windowLen(e.out, e.memberOut)) }

// handle resolves the marks e passes, keeps e if it starts a member or
// the spacing asks for it, and remembers a block end for later marks.
func (ix *Indexer) handle(e event) error {
	for len(ix.pending) > 0 && ix.pending[0] < e.out {
		if err := ix.resolve(ix.pending[0]); err != nil {
			return err
		}
		ix.pending = ix.pending[1:]
	}
	ix.seen = e.out
	if e.member {
		return ix.keep(e)
	}
	if last := ix.lastKept(); e.out-last > ix.spacing && len(ix.recent) > 0 && ix.recent[len(ix.recent)-1].out > last {
		if err := ix.keep(ix.recent[len(ix.recent)-1]); err != nil {
			return err
		}
	}
	if e.out-ix.lastKept() > ix.spacing {
		if err := ix.keep(e); err != nil {
			return err
		}
	}
	ix.recent = append(ix.recent, e)
	return nil
}

// resolve keeps the last block end at or before off, unless a kept
// checkpoint is as close.
func (ix *Indexer) resolve(off int64) error {
	i := sort.Search(len(ix.recent), func(i int) bool { return ix.recent[i].out > off }) - 1
	if i < 0 {
		return nil
	}
	k := sort.Search(len(ix.kept), func(k int) bool { return ix.kept[k].Uncompressed > off }) - 1
	if k >= 0 && ix.kept[k].Uncompressed >= ix.recent[i].out {
		return nil
	}
	return ix.keep(ix.recent[i])
}

func (ix *Indexer) lastKept() int64 {
	if len(ix.kept) == 0 {
		return 0
	}
	return ix.kept[len(ix.kept)-1].Uncompressed
}

// keep adds the checkpoint of e in order, writing its window. Of two at
// one offset, a member start wins: it needs no window.
func (ix *Indexer) keep(e event) error {
	k := sort.Search(len(ix.kept), func(k int) bool { return ix.kept[k].Uncompressed >= e.out })
	at := k < len(ix.kept) && ix.kept[k].Uncompressed == e.out
	if at && (!e.member || ix.kept[k].MemberStart) {
		return nil
	}
	cp := Checkpoint{Uncompressed: e.out, Compressed: e.in, Bit: e.bit, MemberStart: e.member}
	if !e.member {
		w, err := ix.writeWindow(ix.ring.slice(e.windowStart(), windowLen(e.out, e.memberOut)))
		if err != nil {
			return err
		}
		cp.window = w
	}
	if at {
		ix.kept[k] = cp
	} else {
		ix.kept = slices.Insert(ix.kept, k, cp)
	}
	return nil
}

// writeWindow stores the window w, deflated when that is smaller.
func (ix *Indexer) writeWindow(w []byte) (window, error) {
	stored, deflated := ix.pk.pack(w)
	if _, err := ix.windows.Write(stored); err != nil {
		return window{}, fmt.Errorf("writing the window of a checkpoint: %w", err)
	}
	win := window{off: ix.written, size: len(stored), sum: crc32.ChecksumIEEE(stored), deflated: deflated}
	ix.written += int64(len(stored))
	return win, nil
}
