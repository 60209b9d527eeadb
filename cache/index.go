package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/internal/pending"
)

// An index file is a header, then the index: indexMagic, the index's length
// as 8 bytes big-endian, and its SHA-256.
const (
	indexMagic  = "ocitar-index-v1\n"
	indexHeader = len(indexMagic) + 8 + sha256.Size
)

// maxKey is the longest key: room for a digest's hex and a suffix, well
// under the 255 bytes a file name may have.
const maxKey = 128

// checkKey refuses a key that is not 1 to maxKey of [0-9a-z-], wrapping
// fs.ErrInvalid: a key is a file name, never a path.
func checkKey(key string) error {
	if key == "" || len(key) > maxKey {
		return fmt.Errorf("%w: cache key %.140q: want 1 to %d characters", fs.ErrInvalid, key, maxKey)
	}
	for _, r := range key {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || r == '-') {
			return fmt.Errorf("%w: cache key %q: want only 0-9, a-z and -", fs.ErrInvalid, key)
		}
	}
	return nil
}

// indexPath is where the index file of key is, once key is checked.
func (c *Cache) indexPath(key string) string {
	return filepath.Join(c.dir, indexDir, key)
}

// ReadIndex returns the index stored under key, marking it as used. The error
// wraps fs.ErrNotExist when there is none, and ErrCorrupt when the file is
// truncated or damaged; the caller then builds the index again. The index is
// the bytes WriteIndex was given, for the caller to validate.
func (c *Cache) ReadIndex(key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	data, err := readFile(c.indexPath(key))
	if err != nil {
		return nil, fmt.Errorf("cache %s: index %s: %w", c.dir, key, err)
	}
	index, err := decodeIndex(data)
	if err != nil {
		return nil, fmt.Errorf("cache %s: index %s: %w", c.dir, key, err)
	}
	return index, nil
}

// readFile reads the file at path whole and marks it as used.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	touch(path, info.ModTime())
	data := make([]byte, info.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrCorrupt, path, err)
	}
	return data, nil
}

// header is the header of an index file holding index.
func header(index []byte) []byte {
	sum := sha256.Sum256(index)
	h := make([]byte, 0, indexHeader)
	h = append(h, indexMagic...)
	h = binary.BigEndian.AppendUint64(h, uint64(len(index)))
	return append(h, sum[:]...)
}

// decodeIndex returns the index an index file holds, refusing one whose
// header or checksum do not match, wrapping ErrCorrupt.
func decodeIndex(data []byte) ([]byte, error) {
	if len(data) < indexHeader {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrCorrupt, len(data))
	}
	if string(data[:len(indexMagic)]) != indexMagic {
		return nil, fmt.Errorf("%w: not an ocitar index file", ErrCorrupt)
	}
	index := data[indexHeader:]
	if n := binary.BigEndian.Uint64(data[len(indexMagic):]); n != uint64(len(index)) {
		return nil, fmt.Errorf("%w: the header says %d bytes, the file holds %d", ErrCorrupt, n, len(index))
	}
	if !bytes.Equal(header(index), data[:indexHeader]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return index, nil
}

// WriteIndex stores index under key, replacing what was there, after
// evicting what it needs to stay under the bound. Readers see the old index
// or the new one whole; an index larger than the bound is refused
// (errkind.ErrTooLarge).
func (c *Cache) WriteIndex(key string, index []byte) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	if size := int64(indexHeader + len(index)); c.max >= 0 && size > c.max {
		return fmt.Errorf("cache %s: index %s: %w: %d bytes, more than the cache's bound of %d (--cache-max)", c.dir, key, errkind.ErrTooLarge, size, c.max)
	}
	if err := c.writeIndex(key, index); err != nil {
		return fmt.Errorf("cache %s: index %s: %w", c.dir, key, err)
	}
	return nil
}

func (c *Cache) writeIndex(key string, index []byte) error {
	p, err := pending.Create(filepath.Join(c.dir, tmpDir, key))
	if err != nil {
		return err
	}
	defer p.Abort()
	if _, err := p.Write(header(index)); err != nil {
		return err
	}
	if _, err := p.Write(index); err != nil {
		return err
	}
	path := c.indexPath(key)
	if err := c.evict(int64(indexHeader+len(index)), path); err != nil {
		return err
	}
	return p.CommitAs(path)
}

// RemoveIndex removes the index stored under key; none is no error.
func (c *Cache) RemoveIndex(key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	if err := os.Remove(c.indexPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	return nil
}
