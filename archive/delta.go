package archive

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/ocitar/ocitar/internal/compression"
	digest "github.com/opencontainers/go-digest"
)

// AnnotationBases is the annotation of a delta's index.json that records
// its bases: a JSON array of Base, in the order they were given.
const AnnotationBases = "io.github.ocitar.delta.bases"

// Kinds of Base.
const (
	BaseArchive  = "archive"  // an archive file, compressed or not, local or remote
	BaseLayout   = "layout"   // an OCI layout directory
	BaseRegistry = "registry" // a registry's repository
)

// Base is what a delta was written against, as the delta records it: an
// archive or a layout directory by its file name and Identity, a
// registry's repository by its docker://HOST/REPO URL.
type Base struct {
	Kind     string        `json:"kind"`               // BaseArchive, BaseLayout or BaseRegistry
	Name     string        `json:"name"`               // the file name, without its directory; the URL of a repository
	Identity digest.Digest `json:"identity,omitempty"` // Reader.Identity of an archive or a directory; none for a repository
}

// Delta makes a Writer write a delta (WriterOptions.Delta): an archive
// without the blobs its bases hold, other than manifests, indexes and
// configs, which a delta always holds; its index.json records the bases
// under AnnotationBases.
type Delta struct {
	Bases []Base
	Held  map[digest.Digest]int64 // the blobs the bases hold, by digest, with their sizes
}

// Add adds base b, which holds the blobs held.
func (d *Delta) Add(b Base, held map[digest.Digest]int64) {
	d.Bases = append(d.Bases, b)
	if d.Held == nil {
		d.Held = map[digest.Digest]int64{}
	}
	for dg, size := range held {
		d.Held[dg] = size
	}
}

// Identity names the archive as the base of a delta: the digest of its
// index.json, or of docker's manifest.json when it has no index.json. It
// is the same whatever the archive's compression or location, and changes
// with any image, name or base the archive lists.
func (r *Reader) Identity() (digest.Digest, error) {
	name, limit := indexFile, int64(maxIndexSize)
	if !r.hasEntry(indexFile) {
		name, limit = dockerManifestFile, maxDockerManifestSize
	}
	data, err := r.readFile(name, limit)
	if err != nil {
		return "", fmt.Errorf("%s: %w", r.name, err)
	}
	return digest.FromBytes(data), nil
}

// AsBase is the archive as a base of a delta: the Base to record and the
// blobs it holds, with the sizes the manifests that reference them declare.
// Nothing is hashed: a blob is held when the archive has an entry of its
// digest, and its entry's size, where the index tells it, must be the size
// declared; its content is checked when it is read, by the stack's Verify.
func (r *Reader) AsBase() (Base, map[digest.Digest]int64, error) {
	id, err := r.Identity()
	if err != nil {
		return Base{}, nil, err
	}
	b := Base{Kind: BaseArchive, Name: fileName(r.name), Identity: id}
	if _, ok := r.files.(dirFiles); ok {
		b.Kind = BaseLayout
	}
	held, err := r.heldBlobs()
	if err != nil {
		return Base{}, nil, err
	}
	return b, held, nil
}

// heldBlobs are the blobs the images of r reference and r holds, by digest,
// with their declared sizes.
func (r *Reader) heldBlobs() (map[digest.Digest]int64, error) {
	sizes := r.entrySizes()
	held := map[digest.Digest]int64{}
	for _, img := range r.images {
		for _, b := range img.Blobs {
			src, ok := r.blobs[b.Digest]
			if !ok {
				continue
			}
			if stored, known := sizes[src.entry]; known && src.decompress == compression.Uncompressed && stored != b.Size {
				return nil, fmt.Errorf("%s: %w: blob %s is %d bytes, image %s declares %d", r.name, ErrSizeMismatch, b.Digest, stored, img, b.Size)
			}
			held[b.Digest] = b.Size
		}
	}
	return held, nil
}

// fileName is the last element of a path or URL, without a query.
func fileName(name string) string {
	name, _, _ = strings.Cut(name, "?")
	return path.Base(strings.TrimRight(name, "/"))
}

// Bases are the bases the archive records, if it is a delta.
func (r *Reader) Bases() ([]Base, error) {
	recorded, ok := r.annotations[AnnotationBases]
	if !ok {
		return nil, nil
	}
	var bases []Base
	if err := json.Unmarshal([]byte(recorded), &bases); err != nil {
		return nil, fmt.Errorf("%s: %w: %s annotation %s: %w", r.name, ErrInvalidMetadata, indexFile, AnnotationBases, err)
	}
	return bases, nil
}

// heldByBase is the size of blob dg when the bases hold it.
func (d *Delta) heldByBase(dg digest.Digest) (int64, bool) {
	if d == nil {
		return 0, false
	}
	size, ok := d.Held[dg]
	return size, ok
}

// annotation is the value of AnnotationBases.
func (d *Delta) annotation() (map[string]string, error) {
	if d == nil || len(d.Bases) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(d.Bases)
	if err != nil {
		return nil, err
	}
	return map[string]string{AnnotationBases: string(data)}, nil
}
