package cache

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/internal/pending"
	digest "github.com/opencontainers/go-digest"
)

// Fill returns blob d, fetching it with fetch when the cache lacks it. In one process there is one fetch of a
// digest at a time, however many callers ask at once: the others join it. fetch returns the blob's body and its
// size (-1 when unknown); it runs under ctx (the server's lifetime, not one client's). The blob is written to
// DIR/tmp as it arrives, checked against d, and moved into place whole (as Put does; unbounded caches, max < 0,
// evict nothing). A failed fetch (error, short body, digest mismatch) adds nothing, and the next Fill tries again.
//
// Fill returns once fetch has returned (so a 404 or 5xx of the upstream is Fill's error, before a client got any
// byte), or at once when the cache holds d. The error of fetch is returned as it is. Processes sharing the
// directory fetch a digest one at a time too: a Fill waits for another process's fetch of d, and then finds the
// blob stored.
func (c *Cache) Fill(ctx context.Context, d digest.Digest, fetch func(ctx context.Context) (io.ReadCloser, int64, error)) (*Filling, error) {
	if err := checkDigest(d); err != nil {
		return nil, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	call, first := c.joinFill(d)
	if first {
		call.f, call.err = c.startFill(ctx, d, fetch, func() { c.leaveFill(d, call) })
		close(call.ready)
		return call.f, call.err
	}
	select {
	case <-call.ready:
		return call.f, call.err
	case <-ctx.Done():
		return nil, fmt.Errorf("cache %s: blob %s: %w", c.dir, d, context.Cause(ctx))
	}
}

// fillCall is a Fill under way, which other Fills of its digest join.
type fillCall struct {
	ready chan struct{} // closed once f or err is set
	f     *Filling
	err   error
}

// joinFill returns the Fill of d under way, or a new one that the caller
// (first) starts.
func (c *Cache) joinFill(d digest.Digest) (call *fillCall, first bool) {
	c.fillsMu.Lock()
	defer c.fillsMu.Unlock()
	if call, ok := c.fills[d]; ok {
		return call, false
	}
	if c.fills == nil {
		c.fills = make(map[digest.Digest]*fillCall)
	}
	call = &fillCall{ready: make(chan struct{})}
	c.fills[d] = call
	return call, true
}

// leaveFill ends call, so that the next Fill of d finds the blob stored or fetches it again.
func (c *Cache) leaveFill(d digest.Digest, call *fillCall) {
	c.fillsMu.Lock()
	defer c.fillsMu.Unlock()
	if c.fills[d] == call {
		delete(c.fills, d)
	}
}

// startFill returns the blob d stored, or starts its fetch; leave is called
// once the fetch is over, or at once when there is none.
func (c *Cache) startFill(ctx context.Context, d digest.Digest, fetch func(ctx context.Context) (io.ReadCloser, int64, error), leave func()) (*Filling, error) {
	if f, ok := c.stored(d); ok {
		leave()
		return f, nil
	}
	unlock, err := c.lockFill(ctx, d)
	if err != nil {
		leave()
		return nil, err
	}
	end := func() {
		leave()
		unlock()
	}
	if f, ok := c.stored(d); ok {
		end()
		return f, nil
	}
	body, size, err := fetch(ctx)
	if err != nil {
		end()
		return nil, err
	}
	f, err := c.fetching(d, body, size, end)
	if err != nil {
		body.Close()
		end()
		return nil, err
	}
	if size < 0 {
		if err := f.Wait(ctx); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// lockFill takes the lock that keeps processes from fetching d at once, or
// fails when ctx is done first.
func (c *Cache) lockFill(ctx context.Context, d digest.Digest) (unlock func(), err error) {
	type lock struct {
		unlock func() error
		err    error
	}
	taken := make(chan lock, 1)
	go func() {
		unlock, err := c.Lock("fill-" + d.Encoded())
		taken <- lock{unlock, err}
	}()
	select {
	case l := <-taken:
		if l.err != nil {
			return nil, l.err
		}
		return func() { l.unlock() }, nil
	case <-ctx.Done():
		go func() {
			if l := <-taken; l.err == nil {
				l.unlock()
			}
		}()
		return nil, fmt.Errorf("cache %s: blob %s: waiting for another process's fetch: %w", c.dir, d, context.Cause(ctx))
	}
}

// stored returns a Filling of the blob d the cache holds, marking it as used.
func (c *Cache) stored(d digest.Digest) (*Filling, bool) {
	size, ok := c.held(d)
	if !ok {
		return nil, false
	}
	f := newFilling(c, d, size)
	f.written, f.stored = size, true
	return f, true
}

// fetching starts writing body, of size bytes (-1 when unknown), to a
// temporary file that readers follow, and storing it as the blob d; end is
// called once it is stored or failed.
func (c *Cache) fetching(d digest.Digest, body io.ReadCloser, size int64, end func()) (*Filling, error) {
	if c.max >= 0 && size > c.max {
		return nil, fmt.Errorf("cache %s: blob %s: %w: %d bytes, larger than the cache's bound of %d bytes (--cache-max)", c.dir, d, errkind.ErrTooLarge, size, c.max)
	}
	p, err := c.createTemp()
	if err != nil {
		return nil, err
	}
	file, err := os.Open(p.Name())
	if err != nil {
		p.Abort()
		return nil, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	f := newFilling(c, d, size)
	f.file, f.refs = file, 1
	go f.fetch(p, body, end)
	return f, nil
}

// Filling is a blob of the cache, stored or on its way: Fill's result.
type Filling struct {
	c *Cache
	d digest.Digest

	mu       sync.Mutex
	size     int64         // -1 until known
	written  int64         // the bytes of the blob in the file
	verified bool          // the whole blob matched d
	err      error         // the fetch, or the check of a stored blob, failed
	advanced chan struct{} // closed, and replaced, whenever the fields above change
	file     *os.File      // the temporary file of a fetch, which its readers share; nil once closed
	refs     int           // the holders of file: the fetch and the readers
	stored   bool          // the blob was in the cache: it is checked when first read to its end
	checking bool          // the check of a stored blob has started
}

func newFilling(c *Cache, d digest.Digest, size int64) *Filling {
	return &Filling{c: c, d: d, size: size, advanced: make(chan struct{})}
}

// advance tells the readers waiting that f changed; f.mu is held.
func (f *Filling) advance() {
	close(f.advanced)
	f.advanced = make(chan struct{})
}

// fetch stores body as the blob, written through p, telling the readers as it goes.
func (f *Filling) fetch(p *pending.File, body io.ReadCloser, end func()) {
	_, n, added, err := f.c.store(p, progress{p, f}, body, f.d, f.size, true)
	if added {
		f.c.knownGood(f.d, p.File)
	}
	body.Close()
	p.Abort()
	end()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.err = err
	} else {
		f.size, f.written, f.verified = n, n, true
	}
	f.advance()
	f.release()
}

// progress writes a fetched blob and tells the readers.
type progress struct {
	dst io.Writer
	f   *Filling
}

func (w progress) Write(p []byte) (int, error) {
	n, err := w.dst.Write(p)
	w.f.mu.Lock()
	w.f.written += int64(n)
	w.f.advance()
	w.f.mu.Unlock()
	return n, err
}

// release drops a hold of f.file, closing it after the last; f.mu is held.
func (f *Filling) release() {
	f.refs--
	if f.refs == 0 {
		f.file.Close()
		f.file = nil
	}
}

// Size is the blob's size; when fetch gave -1, Fill waits for the whole blob before returning.
func (f *Filling) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}

// Wait waits until the blob is stored whole and checked, or returns the fetch's error. A blob the cache held
// is read through and checked against its digest once; one that fails it is removed from the cache.
func (f *Filling) Wait(ctx context.Context) error {
	for {
		f.mu.Lock()
		err, verified, advanced := f.err, f.verified, f.advanced
		f.check()
		f.mu.Unlock()
		if err != nil || verified {
			return err
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return fmt.Errorf("cache %s: blob %s: %w", f.c.dir, f.d, context.Cause(ctx))
		}
	}
}

// check starts the check of a stored blob, unless it has started; f.mu is held.
func (f *Filling) check() {
	if !f.stored || f.checking {
		return
	}
	f.checking = true
	go func() {
		err := f.c.verify(f.d)
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			f.err = err
		} else {
			f.verified = true
		}
		f.advance()
	}()
}

// knownGood remembers file, just linked into place as the blob d it was
// checked to be as it was written, as found good: verify does not read it.
func (c *Cache) knownGood(d digest.Digest, file *os.File) {
	if info, err := file.Stat(); err == nil {
		c.checked.Store(d, info)
	}
}

// verify reads the blob d and checks it is d, removing it from the cache if
// it is not. A file this Cache found good once is not read again: blobs are
// linked into place whole and never written in place.
func (c *Cache) verify(d digest.Digest) error {
	file, _, err := c.Open(d)
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return fmt.Errorf("cache %s: blob %s: %w", c.dir, d, err)
	}
	if good, ok := c.checked.Load(d); ok && os.SameFile(good.(os.FileInfo), info) {
		return nil
	}
	got, err := digest.SHA256.FromReader(file)
	if err != nil {
		return fmt.Errorf("cache %s: blob %s: %w", c.dir, d, err)
	}
	if got == d {
		c.checked.Store(d, info)
		return nil
	}
	if err := c.Remove(d); err != nil {
		return err
	}
	return fmt.Errorf("cache %s: %w: blob %s: content is %s, removed", c.dir, errkind.ErrDigestMismatch, d, got)
}

// NewReader reads the blob from start on, as it arrives: Read blocks until bytes are written, or ctx is done.
// The blob's last byte is returned only once the whole blob matched d; if it does not, or the fetch fails, Read
// returns that error (wrapping errkind.ErrDigestMismatch for a mismatch). Memory stays bounded: bytes go to disk
// and are read back from the file (ReadAt), never buffered whole.
func (f *Filling) NewReader(ctx context.Context, start int64) io.ReadCloser {
	r := &fillReader{f: f, ctx: ctx, off: start}
	if start < 0 {
		r.err = fmt.Errorf("cache %s: blob %s: %w: reading from %d", f.c.dir, f.d, fs.ErrInvalid, start)
		return r
	}
	r.file, r.shared, r.err = f.share()
	if r.file == nil && r.err == nil {
		r.file, _, r.err = f.c.Open(f.d)
	}
	return r
}

// share returns the temporary file of a fetch, held for a reader until it
// closes, or the fetch's error; neither when the file is closed (the blob is
// stored, or was at Fill).
func (f *Filling) share() (*os.File, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.file == nil {
		return nil, false, f.err
	}
	f.refs++
	return f.file, true, nil
}

// readable returns how far a reader at off may read now, and a channel
// closed when that may change; nil when it will not, or the failure of the blob.
func (f *Filling) readable(off int64) (int64, <-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.err != nil:
		return 0, nil, f.err
	case f.verified:
		return f.size, nil, nil
	}
	limit := min(f.written, f.size-1)
	if off >= limit && f.written == f.size {
		f.check()
	}
	return limit, f.advanced, nil
}

// fillReader reads a Filling from its file.
type fillReader struct {
	f      *Filling
	ctx    context.Context
	off    int64
	file   *os.File
	shared bool  // file is the Filling's, released on Close
	err    error // returned by every Read
}

func (r *fillReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		limit, advanced, err := r.f.readable(r.off)
		if err != nil {
			return 0, err
		}
		if r.off < limit {
			return r.readAt(p[:min(int64(len(p)), limit-r.off)])
		}
		if advanced == nil {
			return 0, io.EOF
		}
		select {
		case <-advanced:
		case <-r.ctx.Done():
			return 0, fmt.Errorf("cache %s: blob %s: %w", r.f.c.dir, r.f.d, context.Cause(r.ctx))
		}
	}
}

// readAt reads p, which the file holds, at the reader's offset.
func (r *fillReader) readAt(p []byte) (int, error) {
	n, err := r.file.ReadAt(p, r.off)
	r.off += int64(n)
	if n == len(p) {
		return n, nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, fmt.Errorf("cache %s: blob %s: %w", r.f.c.dir, r.f.d, err)
}

func (r *fillReader) Close() error {
	if r.file == nil {
		return nil
	}
	file := r.file
	r.file, r.err = nil, fmt.Errorf("cache %s: blob %s: %w", r.f.c.dir, r.f.d, os.ErrClosed)
	if !r.shared {
		return file.Close()
	}
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	r.f.release()
	return nil
}
