package hashing

import (
	"fmt"
	"hash"
	"io"

	"github.com/ocitar/ocitar/internal/errkind"
	digest "github.com/opencontainers/go-digest"
)

// Chunk is how many bytes a Reader hashes at a time in the background.
const Chunk = 1 << 20

// Reader hashes and counts what is read through it. It hashes in the
// background, a chunk at a time, so that hashing runs on another core
// alongside whatever the caller does with the bytes (often a second hash, by
// containers/image's copy engine, and a write).
type Reader struct {
	r       io.Reader
	alg     digest.Algorithm
	h       hash.Hash     // nil: the reader only counts
	N       int64         // bytes read
	pending []byte        // read, not yet hashed
	spare   []byte        // the chunk hashed in the background, then pending's next buffer
	hashed  chan struct{} // closed when the background hashing ends; nil when none runs
}

// NewReader hashes what is read through it with alg.
func NewReader(r io.Reader, alg digest.Algorithm) *Reader {
	return &Reader{r: r, alg: alg, h: alg.Hash()}
}

// NewCountingReader counts what is read through it, for a caller that checks
// the digest itself.
func NewCountingReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

func (h *Reader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.N += int64(n)
	if h.h != nil {
		h.keep(p[:n])
		if len(h.pending) >= Chunk {
			h.hashInBackground()
		}
	}
	return n, err
}

// minPending is the capacity pending starts with.
const minPending = 64 << 10

// keep appends b to pending, doubling its capacity when it must grow: append
// grows a large slice by a quarter at a time, and would copy and allocate
// several chunks' worth of bytes to reach one.
func (h *Reader) keep(b []byte) {
	if need := len(h.pending) + len(b); need > cap(h.pending) {
		grown := make([]byte, len(h.pending), max(need, min(Chunk, max(2*cap(h.pending), minPending))))
		copy(grown, h.pending)
		h.pending = grown
	}
	h.pending = append(h.pending, b...)
}

// hashInBackground hands pending to a goroutine that hashes it, once the
// previous chunk is hashed.
func (h *Reader) hashInBackground() {
	h.wait()
	chunk := h.pending
	h.pending, h.spare = h.spare[:0], chunk
	done := make(chan struct{})
	h.hashed = done
	go func() {
		h.h.Write(chunk)
		close(done)
	}()
}

func (h *Reader) wait() {
	if h.hashed != nil {
		<-h.hashed
		h.hashed = nil
	}
}

// digest is the digest of everything read so far.
func (h *Reader) Digest() digest.Digest {
	h.wait()
	h.h.Write(h.pending)
	h.pending = h.pending[:0]
	return digest.NewDigest(h.alg, h.h)
}

// expectEOF fails if the stream holds more than size bytes.
func (h *Reader) ExpectEOF(size int64) error {
	var one [1]byte
	n, err := io.ReadFull(h.r, one[:])
	if n > 0 {
		return fmt.Errorf("%w: blob is longer than the %d bytes declared", errkind.ErrSizeMismatch, size)
	}
	if err != io.EOF {
		return err // the source's own verdict at its end, such as a failed digest check
	}
	return nil
}

// verify checks what was read against the expected digest and size, where known.
func (h *Reader) Verify(d digest.Digest, size int64) error {
	if size >= 0 && h.N != size {
		return fmt.Errorf("%w: blob has %d bytes, %d declared", errkind.ErrSizeMismatch, h.N, size)
	}
	if d == "" || h.h == nil {
		return nil
	}
	if got := h.Digest(); got != d {
		return fmt.Errorf("%w: blob %s: content is %s", errkind.ErrDigestMismatch, d, got)
	}
	return nil
}

// Verified passes a blob through and fails at EOF unless its digest and
// size are the expected ones.
type Verified struct {
	*Reader
	closer   io.Closer
	what     string
	expected digest.Digest
	size     int64 // -1 when unknown
	err      error
}

// NewVerified passes r through and fails the Read that reaches EOF unless
// what was read has digest d and, unless size is -1, size bytes; it fails as
// soon as more than size bytes come. Errors start with what (the blob and
// where it comes from) and wrap errkind.ErrDigestMismatch or ErrSizeMismatch.
func NewVerified(r io.ReadCloser, what string, d digest.Digest, size int64) (*Verified, error) {
	if !d.Algorithm().Available() {
		r.Close()
		return nil, fmt.Errorf("%s: %w: unsupported digest algorithm %q", what, errkind.ErrDigestMismatch, d.Algorithm())
	}
	return &Verified{Reader: NewReader(r, d.Algorithm()), closer: r, what: what, expected: d, size: size}, nil
}

func (v *Verified) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.Reader.Read(p)
	switch {
	case v.size >= 0 && v.N > v.size:
		v.err = fmt.Errorf("%s: %w: more than the %d bytes declared", v.what, errkind.ErrSizeMismatch, v.size)
	case err == io.EOF:
		v.err = io.EOF
		if verr := v.Verify(v.expected, v.size); verr != nil {
			v.err = fmt.Errorf("%s: %w", v.what, verr)
		}
	case err != nil:
		v.err = fmt.Errorf("%s: %w", v.what, err)
	}
	if v.err != nil {
		return n, v.err
	}
	return n, nil
}

func (v *Verified) Close() error {
	return v.closer.Close()
}

// ReadAll reads a whole stream through a Verified, refusing more than limit bytes.
func ReadAll(r io.ReadCloser, what string, d digest.Digest, size, limit int64) ([]byte, error) {
	if size > limit {
		r.Close()
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d", what, errkind.ErrTooLarge, size, limit)
	}
	v, err := NewVerified(r, what, d, size)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	data, err := io.ReadAll(io.LimitReader(v, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", what, errkind.ErrTooLarge, limit)
	}
	return data, nil
}
