package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/hashing"
	"github.com/ocitar/ocitar/internal/pending"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store holds blobs by digest and lists images by name, as an OCI layout
// directory does. Load writes into one; LayoutStore is the one this package has.
type Store interface {
	archive.BlobOpener
	// StatBlob reports whether the store holds blob d, and its size.
	StatBlob(d digest.Digest) (int64, bool, error)
	// PutBlob stores the blob read from r unless the store holds it. d may be
	// "" and size -1 when unknown; what is known is verified, and the blob is
	// visible only once whole and verified.
	PutBlob(r io.Reader, d digest.Digest, size int64) (StoredBlob, error)
	// AddImages lists each image, whose blobs the store holds, under its name,
	// replacing the image of that name; "" lists it unnamed, once. It lists all
	// of them or, on error, none.
	AddImages(images ...ListedImage) error
	// Images lists the images of the store in order.
	Images() ([]ocispec.Descriptor, error)
}

// StoredBlob is what PutBlob stored.
type StoredBlob struct {
	Digest  digest.Digest
	Size    int64
	Written bool // false when the store held it already
}

// ListedImage is an image a store lists: a manifest or index it holds and the
// name it is listed by, "" for none.
type ListedImage struct {
	Name       string
	Descriptor ocispec.Descriptor
}

// LayoutStore is a Store in an OCI image layout directory (oci-layout,
// index.json, blobs/ALG/HEX) that skopeo's and umoci's oci:DIR:NAME read.
// Blobs are written to a temporary file in the directory, verified, synced and
// renamed; index.json is replaced atomically. Updates of index.json hold a
// lock: on Linux an flock of index.json.lock in the directory, which
// serializes every store of the directory, in this process and others; on
// other systems one within this process only.
type LayoutStore struct {
	dir string
}

var _ Store = (*LayoutStore)(nil)

// OpenLayoutStore opens the OCI layout directory dir as a store, creating it
// and its oci-layout and index.json when they are missing.
func OpenLayoutStore(dir string) (*LayoutStore, error) {
	s := &LayoutStore{dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, ocispec.ImageBlobsDir), 0o755); err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if err := s.initFile(ocispec.ImageLayoutFile, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}); err != nil {
		return nil, err
	}
	if err := s.initFile(ocispec.ImageIndexFile, emptyIndex()); err != nil {
		return nil, err
	}
	return s, nil
}

func emptyIndex() ocispec.Index {
	return ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
}

// Dir is the store's directory.
func (s *LayoutStore) Dir() string { return s.dir }

// initFile writes the JSON of v to name unless the file exists. Only a
// missing file takes the lock, so a read-only store opens.
func (s *LayoutStore) initFile(name string, v any) error {
	missing, err := s.missing(name)
	if err != nil || !missing {
		return err
	}
	unlock, err := s.lockIndex()
	if err != nil {
		return err
	}
	defer unlock()
	if missing, err = s.missing(name); err != nil || !missing {
		return err
	}
	return s.writeJSON(name, v)
}

func (s *LayoutStore) missing(name string) (bool, error) {
	_, err := os.Stat(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("store %s: %w", s.dir, err)
	}
	return false, nil
}

func (s *LayoutStore) writeJSON(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p, err := pending.Create(filepath.Join(s.dir, name))
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	if _, err := p.Write(data); err != nil {
		p.Abort()
		return fmt.Errorf("store %s: writing %s: %w", s.dir, name, err)
	}
	if err := p.Commit(); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	return nil
}

func (s *LayoutStore) blobFile(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("store %s: blob %q: %w: %w", s.dir, d, archive.ErrUnsupportedDigest, err)
	}
	return filepath.Join(s.dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

// StatBlob reports whether the store holds blob d, and its size.
func (s *LayoutStore) StatBlob(d digest.Digest) (int64, bool, error) {
	path, err := s.blobFile(d)
	if err != nil {
		return 0, false, err
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store %s: %w", s.dir, err)
	}
	return info.Size(), true, nil
}

// OpenBlob returns blob d and its size; reading it to EOF verifies it.
func (s *LayoutStore) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	path, err := s.blobFile(d)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("store %s: %w: %s", s.dir, archive.ErrMissingBlob, d)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store %s: %w", s.dir, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("store %s: %w", s.dir, err)
	}
	v, err := hashing.NewVerified(f, "store "+s.dir+": blob "+d.String(), d, info.Size())
	if err != nil {
		return nil, 0, err
	}
	return v, info.Size(), nil
}

// PutBlob stores the blob read from r unless the store holds it; see Store.
func (s *LayoutStore) PutBlob(r io.Reader, d digest.Digest, size int64) (StoredBlob, error) {
	alg := digest.Canonical
	if d != "" {
		n, ok, err := s.StatBlob(d)
		if err != nil || ok {
			return StoredBlob{Digest: d, Size: n}, err
		}
		alg = d.Algorithm()
	}
	if !alg.Available() {
		return StoredBlob{}, fmt.Errorf("store %s: %w: %s", s.dir, archive.ErrUnsupportedDigest, alg)
	}
	dir := filepath.Join(s.dir, ocispec.ImageBlobsDir, alg.String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return StoredBlob{}, fmt.Errorf("store %s: %w", s.dir, err)
	}
	p, err := pending.Create(filepath.Join(dir, "incoming"))
	if err != nil {
		return StoredBlob{}, fmt.Errorf("store %s: %w", s.dir, err)
	}
	defer p.Abort()
	if size >= 0 {
		r = io.LimitReader(r, size+1) // one byte more tells a longer blob
	}
	hr := hashing.NewReader(r, alg)
	if _, err := io.Copy(p, hr); err != nil {
		return StoredBlob{}, fmt.Errorf("store %s: writing blob %s: %w", s.dir, blobName(d), err)
	}
	if err := hr.Verify(d, size); err != nil {
		return StoredBlob{}, fmt.Errorf("store %s: %w", s.dir, err)
	}
	got := StoredBlob{Digest: hr.Digest(), Size: hr.N}
	if _, ok, err := s.StatBlob(got.Digest); err != nil || ok {
		return got, err
	}
	if err := p.CommitAs(filepath.Join(dir, got.Digest.Encoded())); err != nil {
		return StoredBlob{}, fmt.Errorf("store %s: %w", s.dir, err)
	}
	got.Written = true
	return got, nil
}

// Images lists the images of index.json in order.
func (s *LayoutStore) Images() ([]ocispec.Descriptor, error) {
	index, err := s.readIndex()
	return index.Manifests, err
}

// blobName is how errors name a blob being written: its digest, if known.
func blobName(d digest.Digest) string {
	if d == "" {
		return "of unknown digest"
	}
	return d.String()
}

func (s *LayoutStore) readIndex() (ocispec.Index, error) {
	var index ocispec.Index
	path := filepath.Join(s.dir, ocispec.ImageIndexFile)
	f, err := os.Open(path)
	if err != nil {
		return index, fmt.Errorf("store %s: %w", s.dir, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return index, fmt.Errorf("store %s: %w", s.dir, err)
	}
	if info.Size() > archive.MaxManifestSize {
		return index, fmt.Errorf("store %s: %w: %s is %d bytes, the limit is %d", s.dir, archive.ErrTooLarge, ocispec.ImageIndexFile, info.Size(), archive.MaxManifestSize)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return index, fmt.Errorf("store %s: reading %s: %w", s.dir, ocispec.ImageIndexFile, err)
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return index, fmt.Errorf("%w: %s: %w", archive.ErrInvalidMetadata, path, err)
	}
	return index, nil
}

// AddImages lists images in index.json in one update; see Store.
func (s *LayoutStore) AddImages(images ...ListedImage) error {
	checked := make([]ListedImage, len(images))
	for i, img := range images {
		var err error
		if checked[i], err = s.checkImage(img); err != nil {
			return err
		}
	}
	unlock, err := s.lockIndex()
	if err != nil {
		return err
	}
	defer unlock()
	index, err := s.readIndex()
	if err != nil {
		return err
	}
	for _, img := range checked {
		index.Manifests = listImage(index.Manifests, img.Name, img.Descriptor)
	}
	return s.writeJSON(ocispec.ImageIndexFile, index)
}

// checkImage checks that img can be listed and returns it with its name annotations.
func (s *LayoutStore) checkImage(img ListedImage) (ListedImage, error) {
	if img.Name != "" {
		if err := archive.ValidateRefName(img.Name); err != nil {
			return img, fmt.Errorf("store %s: %w", s.dir, err)
		}
		img.Descriptor.Annotations = mergeAnnotations(img.Descriptor.Annotations, archive.NameAnnotations(img.Name))
	}
	_, ok, err := s.StatBlob(img.Descriptor.Digest)
	if err != nil {
		return img, err
	}
	if !ok {
		return img, fmt.Errorf("store %s: %w: image %s", s.dir, archive.ErrMissingBlob, img.Descriptor.Digest)
	}
	return img, nil
}

// listImage puts desc in images in place of the image of the same name, or of
// the same digest when unnamed, else at the end.
func listImage(images []ocispec.Descriptor, name string, desc ocispec.Descriptor) []ocispec.Descriptor {
	for i, old := range images {
		oldName := old.Annotations[ocispec.AnnotationRefName]
		if oldName == name && (name != "" || old.Digest == desc.Digest) {
			images[i] = desc
			return images
		}
	}
	return append(images, desc)
}

func mergeAnnotations(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}
