package cache_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocitar/ocitar/cache"
)

// The index of an archive is built once, by whichever process takes its key
// first; the others wait, then read it.
func ExampleCache_ReadIndex() {
	dir, err := os.MkdirTemp("", "cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(filepath.Join(dir, "ocitar"), 0)
	if err != nil {
		log.Fatal(err)
	}
	const key = "0123abcd-gzip" // the archive's identity, and what the index is of
	for range 2 {
		index, err := indexOf(c, key, func() []byte { fmt.Println("building"); return []byte("checkpoints") })
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\n", index)
	}
	// Output:
	// building
	// checkpoints
	// checkpoints
}

// indexOf reads the index under key, building and storing it when the cache
// lacks it or holds it damaged.
func indexOf(c *cache.Cache, key string, build func() []byte) ([]byte, error) {
	unlock, err := c.Lock(key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	index, err := c.ReadIndex(key)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, cache.ErrCorrupt) {
		index = build()
		err = c.WriteIndex(key, index)
	}
	return index, err
}

// A blob is checked against its digest as it is stored, and once more as it
// is read.
func ExampleCache_Put() {
	dir, err := os.MkdirTemp("", "cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(filepath.Join(dir, "ocitar"), 0)
	if err != nil {
		log.Fatal(err)
	}
	d, size, added, err := c.Put(strings.NewReader("layer"), "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d, size, added)
	f, _, err := c.Open(d)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	verifier := d.Verifier()
	if _, err := io.Copy(verifier, f); err != nil {
		log.Fatal(err)
	}
	fmt.Println(verifier.Verified())
	// Output:
	// sha256:dac1d7cfa95021764849fd102524e141488c5e3a90f861dbb5a12d9ac8584f85 5 true
	// true
}
