package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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

// referenced is every blob the images listed in index.json reach. It reads
// every reachable blob of manifest size as JSON whatever its declared media
// type, and follows every descriptor it finds (config, layers, manifests,
// blobs, subject), so that an unfamiliar or mislabelled manifest cannot make
// Prune take what it references. Blobs the store lacks are passed over.
func (s *LayoutStore) referenced() (map[digest.Digest]bool, error) {
	index, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	keep := map[digest.Digest]bool{}
	todo := slices.Clone(index.Manifests)
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if keep[d.Digest] || d.Digest.Validate() != nil {
			continue // seen, or not a descriptor (an image config has a "config" of its own)
		}
		keep[d.Digest] = true
		refs, err := s.descriptorsIn(d.Digest)
		if err != nil {
			return nil, err
		}
		todo = append(todo, refs...)
	}
	return keep, nil
}

// descriptorsIn are the descriptors blob d holds, if it is a JSON object of
// manifest size; none for any other blob, or one the store lacks.
func (s *LayoutStore) descriptorsIn(d digest.Digest) ([]ocispec.Descriptor, error) {
	size, ok, err := s.StatBlob(d)
	if err != nil || !ok || size > maxManifestSize {
		return nil, err
	}
	rc, size, err := s.OpenBlob(d)
	if err != nil {
		return nil, err
	}
	data, err := readVerified(rc, "blob "+d.String(), d, size, maxManifestSize)
	if err != nil {
		return nil, err
	}
	var refs struct {
		Config    *ocispec.Descriptor  `json:"config"`
		Subject   *ocispec.Descriptor  `json:"subject"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Blobs     []ocispec.Descriptor `json:"blobs"`
	}
	if json.Unmarshal(data, &refs) != nil {
		return nil, nil // not a JSON object: a layer or other leaf
	}
	found := slices.Concat(refs.Layers, refs.Manifests, refs.Blobs)
	for _, one := range []*ocispec.Descriptor{refs.Config, refs.Subject} {
		if one != nil {
			found = append(found, *one)
		}
	}
	return found, nil
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

// temporaryFiles are the files PendingFile writes in a store beside their
// final paths, by directory relative to the store: "" for index.json and
// oci-layout, "blobs/*" for blobs.
var temporaryFiles = map[string][]string{
	"":       {"." + indexFile + pendingMark, "." + ociLayoutFile + pendingMark},
	blobsDir: {".incoming" + pendingMark},
}

// removeTemporary removes from dir, the store's directory or a blobs/ALG one,
// the temporary files of the store's own writes; other files it leaves.
func (s *LayoutStore) removeTemporary(dir string, p *Pruned) error {
	prefixes := temporaryFiles[""]
	if dir != s.dir {
		prefixes = temporaryFiles[blobsDir]
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !slices.ContainsFunc(prefixes, func(prefix string) bool { return strings.HasPrefix(e.Name(), prefix) }) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
		p.Temporary++
	}
	return nil
}
