package store

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ocitar/ocitar/archive"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Cache is a LayoutStore that remembers the images it fetched by name
// (org.opencontainers.image.ref.name), so that resolving a name a second time
// needs no source. Its blobs are served by OpenBlob, verified.
type Cache struct {
	*LayoutStore
	mu sync.Mutex // one fetch of a name at a time
}

// Fetch opens the source of an image the cache lacks: an archive.Reader (an archive,
// or a directory) and the selector of the image in it. The cache closes it.
type Fetch func() (*archive.Reader, archive.Selector, error)

// OpenCache opens the cache in the OCI layout directory dir, creating it if needed.
func OpenCache(dir string) (*Cache, error) {
	s, err := OpenLayoutStore(dir)
	if err != nil {
		return nil, err
	}
	return &Cache{LayoutStore: s}, nil
}

// Resolve resolves the image named name for platform, as archive.Reader.Resolve does.
// Only when the cache lacks the name does it call fetch, copy the whole image
// into the cache, verified, and list it under name.
func (c *Cache) Resolve(name string, platform *ocispec.Platform, fetch Fetch) (archive.Resolved, error) {
	if err := archive.ValidateRefName(name); err != nil {
		return archive.Resolved{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	res, err := c.resolveCached(name, platform)
	if !errors.Is(err, archive.ErrNoMatch) || c.holdsName(name) {
		return res, err
	}
	if err := c.fetch(name, fetch); err != nil {
		return archive.Resolved{}, fmt.Errorf("cache %s: fetching %s: %w", c.dir, name, err)
	}
	return c.resolveCached(name, platform)
}

func (c *Cache) resolveCached(name string, platform *ocispec.Platform) (archive.Resolved, error) {
	r, err := archive.OpenDir(c.dir, archive.Options{})
	if err != nil {
		return archive.Resolved{}, err
	}
	defer r.Close()
	sel, err := archive.ParseSelector(name)
	if err != nil {
		return archive.Resolved{}, err
	}
	return r.Resolve(sel, platform)
}

// holdsName reports whether index.json lists an image named name.
func (c *Cache) holdsName(name string) bool {
	images, err := c.Images()
	if err != nil {
		return false
	}
	sel, err := archive.ParseSelector(name)
	if err != nil {
		return false
	}
	for _, d := range images {
		if sel.Matches(archive.Image{Names: []string{d.Annotations[ocispec.AnnotationRefName]}}) {
			return true
		}
	}
	return false
}

// fetch copies the image fetch gives into the cache and lists it under name.
func (c *Cache) fetch(name string, fetch Fetch) error {
	release, err := c.Hold()
	if err != nil {
		return err
	}
	defer release()
	src, sel, err := fetch()
	if err != nil {
		return err
	}
	defer src.Close()
	img, err := src.Select(sel)
	if err != nil {
		return err
	}
	desc, _, err := storeImage(c.LayoutStore, src, img)
	if err != nil {
		return err
	}
	return c.AddImages(ListedImage{Name: name, Descriptor: desc})
}
