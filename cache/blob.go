package cache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/internal/hashing"
	"github.com/ocitar/ocitar/internal/pending"
	digest "github.com/opencontainers/go-digest"
)

// blobPath is where the blob d is, once d is known to be a valid sha256 digest.
func (c *Cache) blobPath(d digest.Digest) string {
	return filepath.Join(c.dir, blobsDir, d.Encoded())
}

// checkDigest refuses a digest that is not a well-formed sha256 one, wrapping
// errkind.ErrUnsupportedDigest for another algorithm and fs.ErrInvalid for a
// malformed digest.
func checkDigest(d digest.Digest) error {
	err := d.Validate()
	switch {
	case errors.Is(err, digest.ErrDigestUnsupported) || err == nil && d.Algorithm() != digest.SHA256:
		return fmt.Errorf("%w: %q: the cache holds sha256 blobs", errkind.ErrUnsupportedDigest, d)
	case err != nil:
		return fmt.Errorf("%w: digest %q: %v", fs.ErrInvalid, d, err)
	}
	return nil
}

// Has reports whether the cache holds the blob d, without marking it as used.
func (c *Cache) Has(d digest.Digest) bool {
	if checkDigest(d) != nil {
		return false
	}
	_, err := os.Stat(c.blobPath(d))
	return err == nil
}

// Open opens the blob d and returns its size, marking it as used. The error
// wraps fs.ErrNotExist when the cache lacks it. The caller checks the bytes
// against d as it reads them. The file stays readable if the blob is evicted
// or removed while it is open.
func (c *Cache) Open(d digest.Digest) (*os.File, int64, error) {
	if err := checkDigest(d); err != nil {
		return nil, 0, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	path := c.blobPath(d)
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cache %s: blob %s: %w", c.dir, d, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("cache %s: blob %s: %w", c.dir, d, err)
	}
	touch(path, info.ModTime())
	return f, info.Size(), nil
}

// Put stores the blob r holds and returns its digest and size, and whether
// the cache lacked it. With want it checks the content is want, and reads
// nothing when the cache holds want already; with "" it computes the digest.
// A blob is stored whole or not at all: on an error, including a digest that
// differs (errkind.ErrDigestMismatch) or a blob larger than the cache's bound
// (errkind.ErrTooLarge), nothing is added and no temporary file is left. Before
// adding a blob, Put evicts what it needs to stay under the bound. The blob is
// on disk when Put returns.
func (c *Cache) Put(r io.Reader, want digest.Digest) (got digest.Digest, size int64, added bool, err error) {
	if want != "" {
		if err := checkDigest(want); err != nil {
			return "", 0, false, fmt.Errorf("cache %s: %w", c.dir, err)
		}
		if size, ok := c.held(want); ok {
			return want, size, false, nil
		}
	}
	return c.put(r, want, true)
}

// Stage is Put of a blob whose digest is to be computed, without waiting for
// it to reach the disk: a pass that stores many blobs stages them, and Syncs
// them before it records anything that relies on them. Until then a crash
// may leave the blob short, which the next Stage of its content mends.
func (c *Cache) Stage(r io.Reader) (got digest.Digest, size int64, added bool, err error) {
	return c.put(r, "", false)
}

// Sync makes the blobs ds durable, as Put leaves a blob.
func (c *Cache) Sync(ds []digest.Digest) error {
	for _, d := range ds {
		if err := c.syncBlob(d); err != nil {
			return fmt.Errorf("cache %s: blob %s: %w", c.dir, d, err)
		}
	}
	return pending.SyncDir(filepath.Join(c.dir, blobsDir))
}

func (c *Cache) syncBlob(d digest.Digest) error {
	if err := checkDigest(d); err != nil {
		return err
	}
	f, err := os.Open(c.blobPath(d))
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// put writes r into the cache, synced to disk before it is linked in place
// when sync is set.
func (c *Cache) put(r io.Reader, want digest.Digest, sync bool) (got digest.Digest, size int64, added bool, err error) {
	p, err := c.createTemp()
	if err != nil {
		return "", 0, false, err
	}
	defer p.Abort()
	// A blob to sync starts its write-back as it goes (pending.File), so
	// that the fsync finds little left; a staged one leaves it to the
	// kernel, whose queue the hint would wait on.
	var dst io.Writer = p
	if !sync {
		dst = p.File
	}
	return c.store(p, dst, r, want, -1, sync)
}

// createTemp creates the temporary file a blob is written to.
func (c *Cache) createTemp() (*pending.File, error) {
	p, err := pending.Create(filepath.Join(c.dir, tmpDir, "blob"))
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	return p, nil
}

// store copies r to p through dst, checks it is want (unless "") of size
// bytes (unless -1), and links p in place as the blob. A blob the cache holds
// already is kept, unless its size differs from the content just written (a
// short file a crash left). The caller aborts p.
func (c *Cache) store(p *pending.File, dst io.Writer, r io.Reader, want digest.Digest, size int64, sync bool) (got digest.Digest, n int64, added bool, err error) {
	got, n, err = c.write(dst, r, want, size)
	if err != nil {
		return "", 0, false, fmt.Errorf("cache %s: putting a blob: %w", c.dir, err)
	}
	if held, ok := c.held(got); ok && held == n {
		return got, n, false, nil
	} else if ok {
		if err := c.Remove(got); err != nil {
			return "", 0, false, err
		}
	}
	if err := c.evict(n, ""); err != nil {
		return "", 0, false, fmt.Errorf("cache %s: blob %s: %w", c.dir, got, err)
	}
	if sync {
		err = p.Sync()
	}
	if err == nil {
		added, err = c.link(p, got)
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("cache %s: blob %s: %w", c.dir, got, err)
	}
	return got, n, added, nil
}

// held returns the size of the blob d and marks it as used, when the cache holds it.
func (c *Cache) held(d digest.Digest) (int64, bool) {
	path := c.blobPath(d)
	info, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	touch(path, info.ModTime())
	return info.Size(), true
}

// copyChunk is the size of the reads Put copies a blob with.
const copyChunk = 1 << 20

// write copies r to dst, at most the cache's bound, and checks its digest is
// want unless want is "", and its size is size unless size is -1.
func (c *Cache) write(dst io.Writer, r io.Reader, want digest.Digest, size int64) (digest.Digest, int64, error) {
	h := hashing.NewReader(r, digest.SHA256)
	var src io.Reader = h
	if limit := readLimit(c.max, size); limit >= 0 {
		src = io.LimitReader(h, limit+1)
	}
	// The struct hides ReadFrom, so that dst's own Write is called (pending.File's starts write-back).
	n, err := io.CopyBuffer(struct{ io.Writer }{dst}, src, make([]byte, copyChunk))
	if err != nil {
		return "", 0, err
	}
	if c.max >= 0 && n > c.max {
		return "", 0, fmt.Errorf("%w: the blob is larger than the cache's bound of %d bytes (--cache-max)", errkind.ErrTooLarge, c.max)
	}
	if want != "" {
		if err := h.Verify(want, size); err != nil {
			return "", 0, err
		}
	}
	return h.Digest(), n, nil
}

// readLimit is how many bytes write reads before it knows a blob is too
// large (the bound max) or longer than its size: the smaller of those that are
// not -1.
func readLimit(max, size int64) int64 {
	if max < 0 || size >= 0 && size < max {
		return size
	}
	return max
}

// link links p as the blob d, unless another writer did first.
func (c *Cache) link(p *pending.File, d digest.Digest) (added bool, err error) {
	err = os.Link(p.Name(), c.blobPath(d))
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// Remove removes the blob d, as after a pass that added it failed; a blob the
// cache lacks is no error. Those who have it open can still read it.
func (c *Cache) Remove(d digest.Digest) error {
	if err := checkDigest(d); err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	if err := os.Remove(c.blobPath(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	return nil
}
