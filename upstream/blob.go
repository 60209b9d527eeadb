package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ocitar/ocitar/internal/errkind"
	digest "github.com/opencontainers/go-digest"
)

// Blob is blob d, through Options.Cache.Fill: from the cache, or fetched from
// the upstream once however many ask at once. The fetch outlives ctx, so that
// a client that leaves does not break it for the others and the blob is
// stored whole; it ends with the process, or on the upstream's error. size is
// the blob's; open reads it from start on as it arrives, its last byte only
// once the blob matched d. Its errors name the blob's URL, as a mismatch
// found in the cache would not.
func (r *Repository) Blob(ctx context.Context, d digest.Digest) (size int64, open func(ctx context.Context, start int64) (io.ReadCloser, error), err error) {
	if err := d.Validate(); err != nil {
		return 0, nil, fmt.Errorf("upstream %s: blob %q: %w", r.Name(), d, err)
	}
	filling, err := r.set.cache.Fill(context.WithoutCancel(ctx), d, func(ctx context.Context) (io.ReadCloser, int64, error) {
		return r.fetchBlob(ctx, d)
	})
	name := "GET " + redact(r.client.url(r.path, "blobs/"+d.String(), nil))
	if err != nil {
		return 0, nil, blobFailed(name, err)
	}
	size = filling.Size()
	open = func(ctx context.Context, start int64) (io.ReadCloser, error) {
		if start < 0 || start > size {
			return nil, fmt.Errorf("upstream %s: blob %s: start %d outside its %d bytes", r.Name(), d, start, size)
		}
		return errorBody{filling.NewReader(ctx, start), func(err error) error { return blobFailed(name, err) }}, nil
	}
	return size, open, nil
}

// fetchBlob GETs blob d, following redirects, and returns its body, whose
// read errors name where it came from, and its size (-1 when unknown). A
// body that sends nothing for the Set's idle timeout fails.
func (r *Repository) fetchBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	resp, err := r.client.get(ctx, r.path, "blobs/"+d.String(), nil, nil)
	if err != nil {
		cancel(nil)
		return nil, 0, err
	}
	idle := &idleBody{ReadCloser: resp.Body, timeout: r.set.idle, cancel: cancel, ctx: ctx}
	idle.timer = time.AfterFunc(idle.timeout, func() {
		cancel(fmt.Errorf("%w: no byte for %s", ErrUnavailable, idle.timeout))
	})
	return namedBody(idle, requestName(resp.Request)), resp.ContentLength, nil
}

// idleBody is a body that its request's context cancels when it sends
// nothing for timeout.
type idleBody struct {
	io.ReadCloser
	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelCauseFunc
	ctx     context.Context // the request's, whose cause says why it ended
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.timeout)
	}
	if err != nil && errors.Is(context.Cause(b.ctx), ErrUnavailable) {
		err = context.Cause(b.ctx)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	b.cancel(nil)
	return b.ReadCloser.Close()
}

// blobFailed names the upstream's URL in err when the blob it sent is not
// the one asked for, which the cache found.
func blobFailed(name string, err error) error {
	if errors.Is(err, errkind.ErrDigestMismatch) || errors.Is(err, errkind.ErrSizeMismatch) {
		return unavailable(name, err)
	}
	return err
}
