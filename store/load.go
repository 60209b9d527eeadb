package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Loaded is what Load took from a stream.
type Loaded struct {
	Images       []LoadedImage
	BlobsWritten int // blobs of the images that the store lacked, now written
	BlobsPresent int // blobs of the images that the store held already
}

// LoadedImage is an image of the stream as the store now lists it.
type LoadedImage struct {
	Descriptor ocispec.Descriptor // with the name the store lists it by, if any
	Names      []string           // every name the stream gave it
}

// Load reads an OCI layout, docker-save or hybrid tar, possibly compressed,
// from in once, as a stream, and adds its images to store. A blob whose
// entry name carries its digest goes straight to the store, verified, unless
// the store holds it, in which case it is skipped; a docker-save layer is
// written to the store as it is read, named by the digest of its uncompressed
// content; other small files are held in memory. Once the stream ends, its
// images are read as Open reads an archive, their remaining blobs (configs,
// manifests; legacy docker-save images get an OCI manifest) written, and each
// is listed by name (io.containerd.image.name,
// else org.opencontainers.image.ref.name, else its first docker RepoTag).
// The images are listed together once all are stored: a load that fails, as
// when a blob fails its digest, lists none, and the blobs it wrote are left
// for LayoutStore.Prune. A LayoutStore is held (Hold) for the whole load, so
// that Prune cannot take blobs it has written and not yet listed.
func Load(store Store, in io.Reader, opts archive.Options) (Loaded, error) {
	if h, ok := store.(holder); ok {
		release, err := h.Hold()
		if err != nil {
			return Loaded{}, fmt.Errorf("loading stream: %w", err)
		}
		defer release()
	}
	s := &sink{store: store, written: map[digest.Digest]bool{}}
	r, err := archive.Ingest(in, s, opts)
	if err != nil {
		return Loaded{}, fmt.Errorf("loading %w", err)
	}
	loaded, err := s.addImages(r)
	if err != nil {
		return Loaded{}, fmt.Errorf("loading stream: %w", err)
	}
	return loaded, nil
}

// holder is a Store that can be kept from pruning while blobs are put and
// listed, as LayoutStore.
type holder interface {
	Hold() (release func(), err error)
}

// sink is the archive.BlobSink of a Load: it puts blobs into the store and
// notes which it wrote.
type sink struct {
	store   Store
	written map[digest.Digest]bool // blobs this load wrote to the store
}

func (s *sink) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	return s.store.OpenBlob(d)
}

func (s *sink) PutBlob(r io.Reader, d digest.Digest, size int64) (digest.Digest, error) {
	b, err := s.store.PutBlob(r, d, size)
	if err != nil {
		return "", err
	}
	s.written[b.Digest] = s.written[b.Digest] || b.Written
	return b.Digest, nil
}

// addImages reads the images of what was loaded, writes what the store lacks
// of them, and lists them all in one update once every one is stored.
func (s *sink) addImages(r *archive.Reader) (Loaded, error) {
	var loaded Loaded
	var listed []ListedImage
	referenced := map[digest.Digest]bool{}
	for _, img := range r.Images() {
		desc, blobs, err := storeImage(s.store, r, img)
		if err != nil {
			return Loaded{}, fmt.Errorf("image %s: %w", img, err)
		}
		for _, b := range blobs {
			referenced[b.Digest] = true
			s.written[b.Digest] = s.written[b.Digest] || b.Written
		}
		name := storeName(img)
		listed = append(listed, ListedImage{Name: name, Descriptor: desc})
		if name != "" {
			desc.Annotations = mergeAnnotations(desc.Annotations, archive.NameAnnotations(name))
		}
		loaded.Images = append(loaded.Images, LoadedImage{Descriptor: desc, Names: img.Names})
	}
	if err := s.store.AddImages(listed...); err != nil {
		return Loaded{}, err
	}
	for d := range referenced {
		if s.written[d] {
			loaded.BlobsWritten++
		} else {
			loaded.BlobsPresent++
		}
	}
	return loaded, nil
}

// storeImage copies what store lacks of img from r, each blob verified, and
// returns the descriptor to list it by and every blob of it the store now
// holds. A legacy docker-save image, which has no manifest of its own, gets an
// OCI manifest, as OCI layout readers (skopeo's oci:) want one.
func storeImage(store Store, r *archive.Reader, img archive.Image) (ocispec.Descriptor, []StoredBlob, error) {
	var stored []StoredBlob
	for _, b := range img.Blobs {
		if b.Digest == img.Descriptor.Digest && img.Synthesized {
			continue
		}
		sb, err := storeBlob(store, r, b)
		if err != nil {
			return ocispec.Descriptor{}, nil, err
		}
		if sb.Digest != "" {
			stored = append(stored, sb)
		}
	}
	if !img.Synthesized {
		return img.Descriptor, stored, nil
	}
	synthetic, _, err := r.Manifest(img.Descriptor.Digest)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	data, err := ociManifestOf(synthetic)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(data), Size: int64(len(data))}
	sb, err := store.PutBlob(bytes.NewReader(data), desc.Digest, desc.Size)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	return desc, append(stored, sb), nil
}

// ociManifestOf is a synthesized Docker schema2 manifest with OCI media types.
func ociManifestOf(docker []byte) ([]byte, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(docker, &m); err != nil {
		return nil, fmt.Errorf("synthesized manifest: %w", err)
	}
	m.MediaType, m.Config.MediaType = ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig
	for i := range m.Layers {
		m.Layers[i].MediaType = ocispec.MediaTypeImageLayer
	}
	return json.Marshal(m)
}

// storeBlob copies blob b of r into store, verified, unless the store holds it.
// A foreign layer that r lacks is left out: it returns a zero StoredBlob.
func storeBlob(store Store, r *archive.Reader, b ocispec.Descriptor) (StoredBlob, error) {
	size, ok, err := store.StatBlob(b.Digest)
	if err != nil || ok {
		return StoredBlob{Digest: b.Digest, Size: size}, err
	}
	rc, size, err := r.OpenBlob(b.Digest)
	if errors.Is(err, archive.ErrMissingBlob) && len(b.URLs) > 0 {
		return StoredBlob{}, nil // a foreign layer, fetched from its URLs by whoever needs it
	}
	if err != nil {
		return StoredBlob{}, err
	}
	defer rc.Close()
	return store.PutBlob(rc, b.Digest, size)
}

// storeName is the name a store lists a loaded image by: its full name, else
// its ref.name, else its first docker RepoTag.
func storeName(img archive.Image) string {
	a := img.Descriptor.Annotations
	for _, n := range []string{a[archive.AnnotationContainerdImageName], a[ocispec.AnnotationRefName]} {
		if n != "" {
			return n
		}
	}
	if tags := img.DockerTags(); len(tags) > 0 {
		return tags[0]
	}
	return ""
}
