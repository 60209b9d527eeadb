package upstream

import (
	"context"
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
)

// Blob is blob d, through Options.Cache.Fill: from the cache, or fetched from
// the upstream once however many ask at once. The fetch outlives ctx, so that
// a client that leaves does not break it for the others and the blob is
// stored whole; it ends with the process, or on the upstream's error. size is
// the blob's; open reads it from start on as it arrives, its last byte only
// once the blob matched d.
func (r *Repository) Blob(ctx context.Context, d digest.Digest) (size int64, open func(ctx context.Context, start int64) (io.ReadCloser, error), err error) {
	if err := d.Validate(); err != nil {
		return 0, nil, fmt.Errorf("upstream %s: blob %q: %w", r.Name(), d, err)
	}
	filling, err := r.set.cache.Fill(context.WithoutCancel(ctx), d, func(ctx context.Context) (io.ReadCloser, int64, error) {
		return r.fetchBlob(ctx, d)
	})
	if err != nil {
		return 0, nil, err
	}
	size = filling.Size()
	open = func(ctx context.Context, start int64) (io.ReadCloser, error) {
		if start < 0 || start > size {
			return nil, fmt.Errorf("upstream %s: blob %s: start %d outside its %d bytes", r.Name(), d, start, size)
		}
		return filling.NewReader(ctx, start), nil
	}
	return size, open, nil
}

// fetchBlob GETs blob d, following redirects, and returns its body, whose
// read errors name where it came from, and its size (-1 when unknown).
func (r *Repository) fetchBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	resp, err := r.client.get(ctx, r.path, "blobs/"+d.String(), nil, nil)
	if err != nil {
		return nil, 0, err
	}
	return namedBody{resp.Body, requestName(resp.Request)}, resp.ContentLength, nil
}
