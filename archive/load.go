package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Files of a loaded stream that are not blobs are held in memory up to these
// sizes, each and in all; larger ones go to the store like blobs.
const (
	maxHeldFile  = 1 << 20
	maxHeldTotal = 64 << 20
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
func Load(store Store, in io.Reader, opts Options) (Loaded, error) {
	if h, ok := store.(holder); ok {
		release, err := h.Hold()
		if err != nil {
			return Loaded{}, fmt.Errorf("loading stream: %w", err)
		}
		defer release()
	}
	l := &loader{
		store: store, opts: opts,
		idx:     &tarIndex{entries: map[string]*Entry{}, duplicates: map[string]bool{}},
		held:    map[string][]byte{},
		stored:  map[string]digest.Digest{},
		written: map[digest.Digest]bool{},
	}
	if err := l.read(in); err != nil {
		return Loaded{}, fmt.Errorf("loading stream: %w", err)
	}
	loaded, err := l.addImages()
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

// loader holds what it read of a stream.
type loader struct {
	store   Store
	opts    Options
	idx     *tarIndex
	held    map[string][]byte        // small files, by entry name
	heldN   int64                    // their bytes
	stored  map[string]digest.Digest // files written to the store, by entry name
	written map[digest.Digest]bool   // blobs this load wrote to the store
}

func (l *loader) read(in io.Reader) error {
	stream, _, err := openDecompressed(in, 1<<20, l.opts.maxSpoolRatio())
	if err != nil {
		return err
	}
	defer stream.Close()
	tr := tar.NewReader(stream)
	for count := 1; ; count++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotArchive, err)
		}
		if count > l.opts.maxEntries() {
			return fmt.Errorf("%w: more than %d tar entries (limit: Options.MaxEntries)", ErrTooLarge, l.opts.maxEntries())
		}
		if err := l.add(hdr, tr); err != nil {
			return err
		}
	}
}

// add indexes one entry and keeps its content: in the store or in memory.
func (l *loader) add(hdr *tar.Header, content io.Reader) error {
	e, err := newEntry(hdr, 0)
	if err != nil || e == nil {
		return err
	}
	if err := l.idx.add(e); err != nil || e.Type != tar.TypeReg {
		return err
	}
	delete(l.held, e.Name)
	if d, ok := layoutBlobDigest(e.Name); ok {
		return l.putBlob(e.Name, content, d, e.Size)
	}
	if e.Size <= maxHeldFile && l.heldN+e.Size <= maxHeldTotal {
		data, err := io.ReadAll(content)
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.Name, err)
		}
		l.held[e.Name], l.heldN = data, l.heldN+e.Size
		return nil
	}
	return l.putFile(e.Name, content)
}

// putBlob stores a blob of known digest.
func (l *loader) putBlob(name string, content io.Reader, d digest.Digest, size int64) error {
	b, err := l.store.PutBlob(content, d, size)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	l.written[b.Digest] = l.written[b.Digest] || b.Written
	l.stored[name] = b.Digest
	return nil
}

// putFile stores a file that may be a docker-save layer, uncompressed.
func (l *loader) putFile(name string, content io.Reader) error {
	stream, _, err := openDecompressed(content, 4096, l.opts.maxSpoolRatio())
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer stream.Close()
	return l.putBlob(name, stream, "", -1)
}

// addImages reads the images of what was loaded, writes what the store lacks
// of them, and lists them all in one update once every one is stored.
func (l *loader) addImages() (Loaded, error) {
	r, err := newFilesReader(loadedFiles{indexedNames: indexedNames{l.idx}, held: l.held, stored: l.stored, store: l.store}, "stream", l.opts)
	if err != nil {
		return Loaded{}, err
	}
	var loaded Loaded
	var listed []ListedImage
	referenced := map[digest.Digest]bool{}
	for _, img := range r.Images() {
		desc, blobs, err := storeImage(l.store, r, img)
		if err != nil {
			return Loaded{}, fmt.Errorf("image %s: %w", img, err)
		}
		for _, b := range blobs {
			referenced[b.Digest] = true
			l.written[b.Digest] = l.written[b.Digest] || b.Written
		}
		name := storeName(img)
		listed = append(listed, ListedImage{Name: name, Descriptor: desc})
		if name != "" {
			desc.Annotations = mergeAnnotations(desc.Annotations, NameAnnotations(name))
		}
		loaded.Images = append(loaded.Images, LoadedImage{Descriptor: desc, Names: img.Names})
	}
	if err := l.store.AddImages(listed...); err != nil {
		return Loaded{}, err
	}
	for d := range referenced {
		if l.written[d] {
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
func storeImage(store Store, r *Reader, img Image) (ocispec.Descriptor, []StoredBlob, error) {
	synthetic, isLegacy := r.synthetic[img.Descriptor.Digest]
	var stored []StoredBlob
	for _, b := range img.blobs {
		if b.Digest == img.Descriptor.Digest && isLegacy {
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
	if !isLegacy {
		return img.Descriptor, stored, nil
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
	if err := decodeJSON(docker, "synthesized manifest", &m); err != nil {
		return nil, err
	}
	m.MediaType, m.Config.MediaType = ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig
	for i := range m.Layers {
		m.Layers[i].MediaType = ocispec.MediaTypeImageLayer
	}
	return json.Marshal(m)
}

// storeBlob copies blob b of r into store, verified, unless the store holds it.
// A foreign layer that r lacks is left out: it returns a zero StoredBlob.
func storeBlob(store Store, r *Reader, b ocispec.Descriptor) (StoredBlob, error) {
	if !r.holds(b) && len(b.URLs) > 0 {
		return StoredBlob{}, nil // fetched from its URLs by whoever needs it
	}
	size, ok, err := store.StatBlob(b.Digest)
	if err != nil || ok {
		return StoredBlob{Digest: b.Digest, Size: size}, err
	}
	rc, size, err := r.OpenBlob(b.Digest)
	if err != nil {
		return StoredBlob{}, err
	}
	defer rc.Close()
	return store.PutBlob(rc, b.Digest, size)
}

// storeName is the name a store lists a loaded image by: its full name, else
// its ref.name, else its first docker RepoTag.
func storeName(img Image) string {
	a := img.Descriptor.Annotations
	for _, n := range []string{a[AnnotationContainerdImageName], a[ocispec.AnnotationRefName]} {
		if n != "" {
			return n
		}
	}
	if len(img.repoTags) > 0 {
		return img.repoTags[0]
	}
	return ""
}

// loadedFiles are the files of a loaded stream: held in memory, or in the store by digest.
type loadedFiles struct {
	indexedNames
	held   map[string][]byte
	stored map[string]digest.Digest
	store  Store
}

func (f loadedFiles) open(name string) (io.ReadCloser, int64, error) {
	e, err := f.idx.resolve(name, false)
	if err != nil {
		return nil, 0, err
	}
	if data, ok := f.held[e.Name]; ok {
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
	return f.store.OpenBlob(f.stored[e.Name])
}

func (f loadedFiles) readFile(name string, limit int64) ([]byte, error) {
	e, err := f.resolveUnique(name, limit)
	if err != nil {
		return nil, err
	}
	rc, size, err := f.open(e.Name)
	if err != nil {
		return nil, err
	}
	return readAllLimited(rc, name, size, limit)
}
