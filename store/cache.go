package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/ocitar/ocitar/archive"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Cache is a LayoutStore that remembers the images it fetched by name
// (org.opencontainers.image.ref.name), so that resolving a name again needs
// no source. It fetches from any Source, lazily: only what it lacks, only
// the platform asked, each manifest and blob verified. It is safe for
// concurrent use: different names are fetched in parallel, and callers asking
// for one name and platform share one fetch. Its blobs are served by OpenBlob,
// verified.
type Cache struct {
	*LayoutStore
	mu      sync.Mutex
	fetches map[fetchKey]*fetching // in progress
}

// fetchKey names a fetch: an image name and the platform asked, "" for the host's.
type fetchKey struct {
	name     string
	platform string
}

// fetching is a fetch in progress; err is set when done is closed.
type fetching struct {
	done chan struct{}
	err  error
}

// OpenCache opens the cache in the OCI layout directory dir, creating it if needed.
func OpenCache(dir string) (*Cache, error) {
	s, err := OpenLayoutStore(dir)
	if err != nil {
		return nil, err
	}
	return &Cache{LayoutStore: s, fetches: map[fetchKey]*fetching{}}, nil
}

// Resolve resolves the image named name for platform, as archive.Reader.Resolve
// does; nil is the platform this program runs on. When the cache lacks the name,
// or the manifest for the platform, it calls fetch, stores what it lacks of that
// manifest (its index, the manifest, config and layers), and lists the image
// under name; a cache hit calls nothing. A name that is not a valid image name
// is refused (archive.ErrBadSelector) before anything is fetched; a platform the
// image lacks is an error wrapping archive.ErrNoMatch that lists those it has.
// A fetch that fails lists nothing: Prune reclaims what it stored.
func (c *Cache) Resolve(ctx context.Context, name string, platform *ocispec.Platform, fetch Fetch) (archive.Resolved, error) {
	if err := archive.ValidateRefName(name); err != nil {
		return archive.Resolved{}, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	sel, err := archive.ParseSelector(name)
	if err != nil {
		return archive.Resolved{}, err
	}
	res, err := c.resolveCached(sel, platform)
	if !errors.Is(err, archive.ErrNoMatch) {
		return res, err
	}
	key := fetchKey{name: name}
	if platform != nil {
		key.platform = archive.PlatformString(*platform)
	}
	if err := c.fetchOnce(ctx, key, func() error { return c.fetch(ctx, name, sel, platform, fetch) }); err != nil {
		return archive.Resolved{}, fmt.Errorf("cache %s: fetching %s: %w", c.dir, name, err)
	}
	return c.resolveCached(sel, platform)
}

// fetchOnce runs fetch unless a fetch of key is in progress, in which case it
// waits for that one and returns its error.
func (c *Cache) fetchOnce(ctx context.Context, key fetchKey, fetch func() error) error {
	c.mu.Lock()
	if f, ok := c.fetches[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &fetching{done: make(chan struct{})}
	c.fetches[key] = f
	c.mu.Unlock()
	f.err = fetch()
	c.mu.Lock()
	delete(c.fetches, key)
	c.mu.Unlock()
	close(f.done)
	return f.err
}

func (c *Cache) resolveCached(sel archive.Selector, platform *ocispec.Platform) (archive.Resolved, error) {
	r, err := archive.OpenDir(c.dir, archive.Options{})
	if err != nil {
		return archive.Resolved{}, err
	}
	defer r.Close()
	return r.Resolve(sel, platform)
}

// fetch stores what the cache lacks of the image fetch gives for platform and
// lists it under name, unless a fetch that ended meanwhile stored it.
func (c *Cache) fetch(ctx context.Context, name string, sel archive.Selector, platform *ocispec.Platform, fetch Fetch) error {
	if _, err := c.resolveCached(sel, platform); err == nil {
		return nil
	}
	release, err := c.Hold()
	if err != nil {
		return err
	}
	defer release()
	src, err := fetch(ctx, name)
	if err != nil {
		return err
	}
	defer src.Close()
	root, err := src.Descriptor(ctx)
	if err != nil {
		return err
	}
	f := fetcher{ctx: ctx, src: src, store: c.LayoutStore, want: platformOrHost(platform), pinned: platform != nil}
	mediaType, err := f.image(root)
	if err != nil {
		return fmt.Errorf("image %s: %w", root.Digest, err)
	}
	listed := ocispec.Descriptor{MediaType: mediaType, Digest: root.Digest, Size: root.Size}
	return c.AddImages(ListedImage{Name: name, Descriptor: listed})
}

// platformOrHost is p, or the platform this program runs on when p is nil.
func platformOrHost(p *ocispec.Platform) ocispec.Platform {
	if p != nil {
		return *p
	}
	return ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
}
