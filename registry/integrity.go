package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
)

// integrity hashes each blob of an archive once, on its first request or at
// start, and remembers the verdict for the archive's lifetime.
type integrity struct {
	reader *archive.Reader
	log    func(string)
	failed func(error) error
	ctx    context.Context
	cancel context.CancelFunc
	hashes sync.WaitGroup

	mu       sync.Mutex
	verdicts map[digest.Digest]*verdict
}

// verdict is the outcome of hashing one blob: err is nil when it matches its digest.
type verdict struct {
	done chan struct{}
	err  error
}

// newIntegrity hashes the blobs of r; failed gets what fails to be read.
func newIntegrity(r *archive.Reader, log func(string), failed func(error) error) *integrity {
	ctx, cancel := context.WithCancel(context.Background())
	return &integrity{reader: r, log: log, failed: failed, ctx: ctx, cancel: cancel, verdicts: map[digest.Digest]*verdict{}}
}

// verdict returns the verdict of d, starting to hash d unless that is done or under way.
func (in *integrity) verdict(d digest.Digest) *verdict {
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.verdicts[d]; ok {
		return v
	}
	v := &verdict{done: make(chan struct{})}
	in.verdicts[d] = v
	in.hashes.Add(1)
	go in.hash(d, v)
	return v
}

func (in *integrity) hash(d digest.Digest, v *verdict) {
	defer in.hashes.Done()
	defer close(v.done)
	v.err = in.read(d)
	if v.err != nil && in.ctx.Err() == nil && !errors.Is(v.err, archive.ErrMissingBlob) {
		in.log(fmt.Sprintf("%v: not serving this blob", in.failed(v.err)))
	}
}

// read reads blob d whole through the archive's verifying reader.
func (in *integrity) read(d digest.Digest) error {
	rc, _, err := in.reader.OpenBlob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, contextReader{in.ctx, rc})
	return err
}

// check waits for the verdict of d, or for ctx.
func (in *integrity) check(ctx context.Context, d digest.Digest) error {
	v := in.verdict(d)
	select {
	case <-v.done:
		return v.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// known reports whether d was hashed already, and its verdict; otherwise it
// starts hashing d, unless that is under way.
func (in *integrity) known(d digest.Digest) (bool, error) {
	v := in.verdict(d)
	select {
	case <-v.done:
		return true, v.err
	default:
		return false, nil
	}
}

// stop interrupts the hashing under way and waits for it to end.
func (in *integrity) stop() {
	in.cancel()
	in.hashes.Wait()
}

// contextReader fails its reads once ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
