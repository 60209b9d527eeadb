package registry

import (
	"context"
	"fmt"
	"io"
	"sync"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest returns the manifest or index that ref, a tag or a digest, names
// in repository name (REGISTRY/PATH or PATH, as Pull reports it), as a
// request without ?ns= finds it: from the archives, else the upstream.
// What neither has is an error wrapping fs.ErrNotExist. Nothing goes to
// Options.Pulled.
func (h *Handler) Manifest(ctx context.Context, name, ref string) ([]byte, string, digest.Digest, error) {
	l, done := h.lookup()
	defer done()
	t, err := l.target(name, "")
	if err != nil {
		return nil, "", "", err
	}
	m, err := l.manifest(ctx, t, ref, nil)
	return m.data, m.mediaType, m.digest, err
}

// OpenBlob opens blob d of repository name, as Manifest finds it. The stream
// fails at its end unless the blob matches d.
func (h *Handler) OpenBlob(ctx context.Context, name string, d digest.Digest) (io.ReadCloser, int64, error) {
	l, done := h.lookup()
	t, err := l.target(name, "")
	if err != nil {
		done()
		return nil, 0, err
	}
	rc, size, err := l.openBlob(ctx, t, d)
	if err != nil {
		done()
		return nil, 0, err
	}
	return &releasingReader{ReadCloser: rc, release: done}, size, nil
}

// openBlob opens blob d of t: an archive's checked stream, or the upstream's.
func (l lookup) openBlob(ctx context.Context, t target, d digest.Digest) (io.ReadCloser, int64, error) {
	if src, _, ok := findBlob(t.repo, d); ok {
		return src.Reader.OpenBlob(d)
	}
	b, err := l.blob(ctx, t, d)
	if err != nil {
		return nil, 0, err
	}
	rc, err := b.open(0)
	return rc, b.size, err
}

// FetchBlob makes sure that blob d of repository name is held whole and
// checked, as OpenBlob finds it, and returns its size: an archive's is there,
// an upstream's is fetched, and read only for its last byte, which comes
// once the blob matched d.
func (h *Handler) FetchBlob(ctx context.Context, name string, d digest.Digest) (int64, error) {
	l, done := h.lookup()
	defer done()
	t, err := l.target(name, "")
	if err != nil {
		return 0, err
	}
	b, err := l.blob(ctx, t, d)
	if err != nil || b.src != nil || b.size == 0 {
		return b.size, err
	}
	rc, err := b.open(b.size - 1)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1)); err != nil {
		return 0, fmt.Errorf("blob %s of %s: %w", d, name, err)
	}
	return b.size, nil
}

// Referrers lists the manifests whose subject is d in repository name, as
// Manifest finds them.
func (h *Handler) Referrers(ctx context.Context, name string, d digest.Digest) ([]ocispec.Descriptor, error) {
	l, done := h.lookup()
	defer done()
	t, err := l.target(name, "")
	if err != nil {
		return nil, err
	}
	return l.referrers(ctx, t, d, "")
}

// lookup returns a lookup in the archives served now, and the function that
// releases them.
func (h *Handler) lookup() (lookup, func()) {
	s := h.acquire()
	return lookup{s, &h.opts}, s.users.Done
}

// releasingReader releases the archives it reads from when closed.
type releasingReader struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (r *releasingReader) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.release)
	return err
}
