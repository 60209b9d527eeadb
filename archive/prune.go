package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// Hold keeps Prune from removing blobs until release is called. A caller that
// puts blobs and then lists them with AddImages holds the store in between,
// as Load and Cache do; holds of one store, in this process and (on Linux)
// others, go together, and wait for a Prune in progress.
func (s *LayoutStore) Hold() (release func(), err error) {
	return s.lockBlobs(false)
}

// Pruned is what Prune removed.
type Pruned struct {
	Blobs     int   // blobs that no listed image references
	Bytes     int64 // their size
	Temporary int   // files of writes that never finished, as a crashed process leaves them
}

// Prune removes the blobs that no image listed in index.json references, as a
// failed Load leaves them, and the temporary files of writes that never
// finished. It fails with ErrStoreBusy, removing nothing, while anyone holds
// the store (Hold), and removes nothing if the store cannot be read whole.
func (s *LayoutStore) Prune() (Pruned, error) {
	unlock, err := s.lockBlobs(true)
	if err != nil {
		return Pruned{}, err
	}
	defer unlock()
	unlockIndex, err := s.lockIndex()
	if err != nil {
		return Pruned{}, err
	}
	defer unlockIndex()
	keep, err := s.referenced()
	if err != nil {
		return Pruned{}, fmt.Errorf("store %s: not pruned: %w", s.dir, err)
	}
	var p Pruned
	if err := s.removeTemporary(s.dir, &p); err != nil {
		return p, err
	}
	algs, err := os.ReadDir(filepath.Join(s.dir, blobsDir))
	if err != nil {
		return p, fmt.Errorf("store %s: %w", s.dir, err)
	}
	for _, alg := range algs {
		if alg.IsDir() {
			if err := s.pruneBlobs(digest.Algorithm(alg.Name()), keep, &p); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

// referenced is every blob the images listed in index.json reference.
func (s *LayoutStore) referenced() (map[digest.Digest]bool, error) {
	r, err := OpenDir(s.dir, Options{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	keep := map[digest.Digest]bool{}
	for _, img := range r.Images() {
		keep[img.Descriptor.Digest] = true
		for _, b := range img.blobs {
			keep[b.Digest] = true
		}
	}
	return keep, nil
}

// pruneBlobs removes from blobs/alg the temporary files and the blobs not in
// keep. Files whose names are not digests of alg are left alone.
func (s *LayoutStore) pruneBlobs(alg digest.Algorithm, keep map[digest.Digest]bool, p *Pruned) error {
	dir := filepath.Join(s.dir, blobsDir, alg.String())
	if err := s.removeTemporary(dir, p); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(alg, e.Name())
		if !e.Type().IsRegular() || d.Validate() != nil || keep[d] {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
		p.Blobs++
		p.Bytes += info.Size()
	}
	return nil
}

// removeTemporary removes from dir the files PendingFile writes beside their
// final paths (".NAME.ocitar-*").
func (s *LayoutStore) removeTemporary(dir string, p *Pruned) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), pendingMark) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
		p.Temporary++
	}
	return nil
}
