package store

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/pending"
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
// finished. It fails with ErrBusy, removing nothing, while anyone holds
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
	if err := s.pruneDir(s.dir, storeTemporary, "", keep, &p); err != nil {
		return p, err
	}
	algs, err := os.ReadDir(filepath.Join(s.dir, ocispec.ImageBlobsDir))
	if err != nil {
		return p, fmt.Errorf("store %s: %w", s.dir, err)
	}
	for _, alg := range algs {
		if alg.IsDir() {
			dir := filepath.Join(s.dir, ocispec.ImageBlobsDir, alg.Name())
			if err := s.pruneDir(dir, blobTemporary, digest.Algorithm(alg.Name()), keep, &p); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

// referenced is every blob the images listed in index.json reach. It reads
// every reachable JSON object as a possible manifest or index, whatever its
// declared media type, and follows every digest it names as config, layers,
// manifests, blobs, subject or fsLayers, so that an unfamiliar or mislabelled
// manifest cannot make Prune take what it references. It refuses, rather than
// guess, a reachable JSON object it cannot read whole. Blobs the store lacks
// are passed over.
func (s *LayoutStore) referenced() (map[digest.Digest]bool, error) {
	index, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	keep := map[digest.Digest]bool{}
	var todo []digest.Digest
	for _, m := range index.Manifests {
		todo = append(todo, m.Digest)
	}
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if keep[d] || d.Validate() != nil {
			continue // seen, or not a digest (an image config has a "config" of its own)
		}
		keep[d] = true
		refs, err := s.digestsIn(d)
		if err != nil {
			return nil, err
		}
		todo = append(todo, refs...)
	}
	return keep, nil
}

// digestsIn are the digests blob d names as a manifest or index would; none
// if it is not a JSON object, or the store lacks it.
func (s *LayoutStore) digestsIn(d digest.Digest) ([]digest.Digest, error) {
	rc, size, err := s.OpenBlob(d)
	if errors.Is(err, archive.ErrMissingBlob) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	if !startsJSONObject(br) {
		return nil, nil // a layer or another leaf
	}
	if size > archive.MaxManifestSize {
		return nil, fmt.Errorf("blob %s is a JSON object of %d bytes, more than a manifest may hold (%d): its references cannot be followed", d, size, archive.MaxManifestSize)
	}
	data, err := io.ReadAll(br) // to EOF: OpenBlob's reader then checks the digest
	if err != nil {
		return nil, err
	}
	type ref struct {
		Digest digest.Digest `json:"digest"`
	}
	var doc struct {
		Config    *ref  `json:"config"`
		Subject   *ref  `json:"subject"`
		Layers    []ref `json:"layers"`
		Manifests []ref `json:"manifests"`
		Blobs     []ref `json:"blobs"`
		FSLayers  []struct {
			BlobSum digest.Digest `json:"blobSum"`
		} `json:"fsLayers"` // docker schema 1
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("blob %s: its references cannot be read: %w", d, err)
	}
	var found []digest.Digest
	for _, r := range slices.Concat(doc.Layers, doc.Manifests, doc.Blobs) {
		found = append(found, r.Digest)
	}
	for _, r := range []*ref{doc.Config, doc.Subject} {
		if r != nil {
			found = append(found, r.Digest)
		}
	}
	for _, l := range doc.FSLayers {
		found = append(found, l.BlobSum)
	}
	return found, nil
}

// startsJSONObject reports whether the first byte of r that is not JSON white
// space opens an object; after 512 bytes of white space it answers true, to
// be safe. It leaves what it read in r.
func startsJSONObject(r *bufio.Reader) bool {
	for n := 1; n <= 512; n++ {
		head, _ := r.Peek(n)
		if len(head) < n {
			return false
		}
		switch head[n-1] {
		case ' ', '\t', '\r', '\n':
		case '{':
			return true
		default:
			return false
		}
	}
	return true
}

// The names a store's own writes give their temporary files (PendingFile),
// by how they start: in the store's directory, and in blobs/ALG.
var (
	storeTemporary = []string{"." + ocispec.ImageIndexFile + pending.Mark, "." + ocispec.ImageLayoutFile + pending.Mark}
	blobTemporary  = []string{".incoming" + pending.Mark}
)

// pruneDir removes from dir the regular files whose names start with one of
// temporary and, when alg is set, the blobs of alg not in keep. Other files it
// leaves alone.
func (s *LayoutStore) pruneDir(dir string, temporary []string, alg digest.Algorithm, keep map[digest.Digest]bool, p *Pruned) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		isTemporary := slices.ContainsFunc(temporary, func(prefix string) bool { return strings.HasPrefix(e.Name(), prefix) })
		d := digest.NewDigestFromEncoded(alg, e.Name())
		isOrphan := alg != "" && d.Validate() == nil && !keep[d]
		if !isTemporary && !isOrphan {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
		if isTemporary {
			p.Temporary++
		} else {
			p.Blobs++
			p.Bytes += info.Size()
		}
	}
	return nil
}
