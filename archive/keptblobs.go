package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ocitar/ocitar/source"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
)

// keptBlobs are the blobs of a remote archive, each fetched whole into the
// cache once, verified on the way, and served from there: however many
// clients ask at once, and whichever process sharing the cache asks later.
type keptBlobs struct {
	cache Cache
	fetch singleflight.Group

	mu    sync.Mutex
	files map[digest.Digest]*os.File
}

// keepsBlobs reports whether the blobs of src are worth keeping in a cache:
// those of a Source read by requests.
func keepsBlobs(src source.Source, opts Options) *keptBlobs {
	if _, remote := src.(source.Streamer); !remote || opts.Cache == nil {
		return nil
	}
	return &keptBlobs{cache: opts.Cache, files: map[digest.Digest]*os.File{}}
}

// file is the cached file of blob d, fetched with open when the cache lacks
// it.
func (k *keptBlobs) file(d digest.Digest, open func() (io.ReadCloser, error)) (*os.File, error) {
	k.mu.Lock()
	f, ok := k.files[d]
	k.mu.Unlock()
	if ok {
		return f, nil
	}
	_, err, _ := k.fetch.Do(string(d), func() (any, error) { return nil, k.keep(d, open) })
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.files[d], nil
}

// keep opens the cached file of d, putting it into the cache first if it
// is not there.
func (k *keptBlobs) keep(d digest.Digest, open func() (io.ReadCloser, error)) error {
	f, _, err := k.cache.Open(d)
	if errors.Is(err, os.ErrNotExist) {
		if err = k.put(d, open); err == nil {
			f, _, err = k.cache.Open(d)
		}
	}
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.files[d] = f
	k.mu.Unlock()
	return nil
}

func (k *keptBlobs) put(d digest.Digest, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, _, _, err := k.cache.Put(rc, d); err != nil {
		return fmt.Errorf("keeping blob %s in the cache: %w", d, err)
	}
	return nil
}

func (k *keptBlobs) close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, f := range k.files {
		f.Close()
	}
	k.files = nil
	return nil
}
