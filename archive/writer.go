package archive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ocitar/ocitar/internal/hashing"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Format says what a Writer writes besides the OCI layout.
type Format int

const (
	// FormatHybrid adds docker's manifest.json and repositories for every
	// single-platform image, so docker load and docker-archive: read the file too.
	FormatHybrid Format = iota
	// FormatOCI writes the OCI layout alone.
	FormatOCI
)

// WriterOptions tune a Writer.
type WriterOptions struct {
	Format  Format
	ModTime time.Time // of every entry; the zero time writes 0 (1970-01-01)
	TempDir string    // spools blobs of unknown digest when the output cannot seek; "" is TMPDIR
	Delta   *Delta    // when set, the archive is a delta: see Delta
}

// Writer writes an image tar: blobs stream straight into it in the order they
// come, each stored once, and Close adds index.json, oci-layout and, in the
// hybrid format, docker's manifest.json and repositories. The output is the
// same, byte for byte, for the same calls in the same order.
type Writer struct {
	out       io.Writer
	seeker    io.Seeker // nil when out cannot seek
	base      int64     // offset of the archive's start in a seekable out
	pos       int64
	mtime     int64
	opts      WriterOptions
	err       error // sticky: out holds a partial entry
	blobs     map[digest.Digest]int64
	dirs      map[string]bool
	manifests map[digest.Digest][]byte
	images    []writtenImage
}

type writtenImage struct {
	desc     ocispec.Descriptor
	repoTags []string
}

// NewWriter writes an archive to out. When out can seek (a file), blobs of
// unknown digest are written in place and their header patched afterwards;
// otherwise (a pipe, a compressor) they are spooled to a temporary file
// first. When out is a FramedOutput, each entry starts a frame.
func NewWriter(out io.Writer, opts WriterOptions) *Writer {
	w := &Writer{
		out: out, opts: opts,
		blobs: map[digest.Digest]int64{}, dirs: map[string]bool{}, manifests: map[digest.Digest][]byte{},
	}
	if !opts.ModTime.IsZero() {
		w.mtime = opts.ModTime.Unix()
	}
	if s, ok := out.(io.Seeker); ok {
		if base, err := s.Seek(0, io.SeekCurrent); err == nil {
			w.seeker, w.base = s, base
		}
	}
	return w
}

// Has reports whether blob d is in the archive, and its size.
func (w *Writer) Has(d digest.Digest) (int64, bool) {
	size, ok := w.blobs[d]
	return size, ok
}

// HeldByBase reports whether blob d is left out of the archive, a delta
// whose bases hold it, and its size. Only layers are left out: PutBlob and
// PutManifest store what they are given, and CopyImage leaves out the
// layers HeldByBase names.
func (w *Writer) HeldByBase(d digest.Digest) (int64, bool) {
	if _, ok := w.blobs[d]; ok {
		return 0, false
	}
	return w.opts.Delta.heldByBase(d)
}

// PutBlob stores the blob read from r and returns its digest and size. d and
// size may be unknown ("" and -1); what is known is verified, and a mismatch or
// a read error fails the call with nothing of the blob referenced. A blob
// already stored is not read again.
func (w *Writer) PutBlob(r io.Reader, d digest.Digest, size int64) (digest.Digest, int64, error) {
	return w.putBlob(r, d, size, hashing.NewReader)
}

// PutCheckedBlob is PutBlob for a caller that checks the digest of r itself,
// as containers/image's copy engine does on every stream it passes on with a
// digest: r must fail its last Read unless its content is d. A blob of known
// digest and size is then counted, not hashed a second time; one of unknown
// digest or size is hashed as by PutBlob.
func (w *Writer) PutCheckedBlob(r io.Reader, d digest.Digest, size int64) (digest.Digest, int64, error) {
	return w.putBlob(r, d, size, func(r io.Reader, _ digest.Algorithm) *hashing.Reader { return hashing.NewCountingReader(r) })
}

// putBlob stores a blob, reading one of known digest and size through known(r).
func (w *Writer) putBlob(r io.Reader, d digest.Digest, size int64, known func(io.Reader, digest.Algorithm) *hashing.Reader) (digest.Digest, int64, error) {
	if n, ok := w.blobs[d]; ok {
		return d, n, nil
	}
	alg := digest.Canonical
	if d != "" {
		if err := d.Validate(); err != nil {
			return "", 0, fmt.Errorf("blob %q: %w", d, err)
		}
		alg = d.Algorithm()
	}
	if _, _, err := splitUSTARName(blobPath(digest.NewDigestFromEncoded(alg, strings.Repeat("0", alg.Size()*2)))); err != nil {
		return "", 0, fmt.Errorf("%w: %s blobs cannot be written: %w", ErrUnsupportedDigest, alg, err)
	}
	if err := w.ensureDirs(alg); err != nil {
		return "", 0, err
	}
	switch {
	case d != "" && size >= 0:
		return d, size, w.putKnown(known(r, alg), d, size)
	case w.seeker != nil:
		return w.putPatched(r, alg, d, size)
	}
	return w.putSpooled(r, alg, d, size)
}

// PutManifest stores a manifest or index and keeps it to describe the archive at Close.
func (w *Writer) PutManifest(data []byte, mediaType string) (ocispec.Descriptor, error) {
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if _, _, err := w.PutBlob(bytes.NewReader(data), desc.Digest, desc.Size); err != nil {
		return ocispec.Descriptor{}, err
	}
	w.manifests[desc.Digest] = data
	return desc, nil
}

// AddImage lists desc, a manifest or index already stored, in index.json, with
// its annotations; repoTags name it in docker's manifest.json. An image with
// the same org.opencontainers.image.ref.name is replaced in place.
func (w *Writer) AddImage(desc ocispec.Descriptor, repoTags []string) error {
	if _, ok := w.blobs[desc.Digest]; !ok {
		return fmt.Errorf("%w: image %s", ErrMissingBlob, desc.Digest)
	}
	img := writtenImage{desc: desc, repoTags: repoTags}
	if name := desc.Annotations[ocispec.AnnotationRefName]; name != "" {
		for i := range w.images {
			if w.images[i].desc.Annotations[ocispec.AnnotationRefName] == name {
				w.images[i] = img
				return nil
			}
		}
	}
	w.images = append(w.images, img)
	return nil
}

// CopyImage stores every blob of img that r holds and this archive lacks, each
// verified, but the layers of a delta's bases, and adds img under the names
// it has in r.
func (w *Writer) CopyImage(r *Reader, img Image) error {
	for _, b := range img.Blobs {
		if _, held := w.HeldByBase(b.Digest); held && img.isLayer(b.Digest) {
			continue
		}
		if err := w.copyBlob(r, b); err != nil {
			return fmt.Errorf("copying image %s: %w", img, err)
		}
	}
	return w.AddImage(img.indexDescriptor(), img.DockerTags())
}

func (w *Writer) copyBlob(r *Reader, b ocispec.Descriptor) error {
	if _, ok := w.blobs[b.Digest]; ok {
		return nil
	}
	if _, ok := r.types[b.Digest]; ok {
		data, mediaType, err := r.Manifest(b.Digest)
		if err == nil {
			_, err = w.PutManifest(data, mediaType)
		}
		return err
	}
	_, err := w.CopyBlob(r, b.Digest)
	if errors.Is(err, ErrMissingBlob) && len(b.URLs) > 0 {
		return nil // a foreign layer, fetched from its URLs by whoever needs it
	}
	return err
}

// CopyBlob stores blob d of r, verified, unless this archive has it, and returns its size.
func (w *Writer) CopyBlob(r *Reader, d digest.Digest) (int64, error) {
	if size, ok := w.blobs[d]; ok {
		return size, nil
	}
	rc, size, err := r.OpenBlob(d)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	_, size, err = w.PutCheckedBlob(rc, d, size) // OpenBlob's stream checks the digest
	return size, err
}

// Close finishes the archive. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	files, err := w.metadata()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := w.writeFile(f.name, f.data); err != nil {
			return err
		}
	}
	if err := w.endFrame(); err != nil {
		return err
	}
	if err := w.write(make([]byte, 2*blockSize)); err != nil {
		return err
	}
	if t, ok := w.out.(interface{ Truncate(int64) error }); ok && w.seeker != nil {
		return t.Truncate(w.base + w.pos) // drops what rewound blobs left beyond the end
	}
	return nil
}

type metadataFile struct {
	name string
	data []byte
}

// metadata is the content of the files that describe the archive, in the order they are written.
func (w *Writer) metadata() ([]metadataFile, error) {
	annotations, err := w.opts.Delta.annotation()
	if err != nil {
		return nil, err
	}
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}, Annotations: annotations}
	for _, img := range w.images {
		index.Manifests = append(index.Manifests, img.desc)
	}
	indexData, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	layoutData, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	files := []metadataFile{{ociLayoutFile, layoutData}, {indexFile, indexData}}
	if w.opts.Format == FormatOCI {
		return files, nil
	}
	items, repos, err := w.dockerManifest()
	if err != nil || len(items) == 0 {
		return files, err
	}
	itemsData, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	files = append(files, metadataFile{dockerManifestFile, itemsData})
	if len(repos) > 0 {
		reposData, err := json.Marshal(repos)
		if err != nil {
			return nil, err
		}
		files = append(files, metadataFile{repositoriesFile, reposData})
	}
	return files, nil
}

// dockerManifest describes every image docker can load: a single manifest
// with an image config and every layer in the archive, or an index of which
// the archive holds one such manifest alone (an archive of one platform).
func (w *Writer) dockerManifest() ([]dockerSaveItem, map[string]map[string]string, error) {
	var items []dockerSaveItem
	repos := map[string]map[string]string{}
	for _, img := range w.images {
		m, ok, err := w.loadable(img.desc)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		item := dockerSaveItem{Config: blobPath(m.Config.Digest), RepoTags: img.repoTags}
		for _, l := range m.Layers {
			item.Layers = append(item.Layers, blobPath(l.Digest))
		}
		items = append(items, item)
		for _, tag := range img.repoTags {
			repo, t := splitTag(tag)
			if repos[repo] == nil {
				repos[repo] = map[string]string{}
			}
			if len(m.Layers) > 0 {
				repos[repo][t] = m.Layers[len(m.Layers)-1].Digest.Encoded()
			}
		}
	}
	return items, repos, nil
}

// loadable is the manifest docker loads for desc: desc itself, or the one
// member of index desc the archive holds loadable; ok is false when there is
// none, or several.
func (w *Writer) loadable(desc ocispec.Descriptor) (ocispec.Manifest, bool, error) {
	if !IsIndex(desc.MediaType) {
		return w.loadableManifest(desc)
	}
	data, ok := w.manifests[desc.Digest]
	if !ok {
		return ocispec.Manifest{}, false, nil
	}
	var index ocispec.Index
	if err := decodeJSON(data, "index "+desc.Digest.String(), &index); err != nil {
		return ocispec.Manifest{}, false, err
	}
	var found []ocispec.Manifest
	for _, child := range index.Manifests {
		m, ok, err := w.loadableManifest(child)
		if err != nil {
			return ocispec.Manifest{}, false, err
		}
		if ok {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return ocispec.Manifest{}, false, nil
	}
	return found[0], true, nil
}

// loadableManifest is manifest desc when the archive holds it, its image
// config and every layer.
func (w *Writer) loadableManifest(desc ocispec.Descriptor) (ocispec.Manifest, bool, error) {
	data, ok := w.manifests[desc.Digest]
	if !ok || !IsManifest(desc.MediaType) {
		return ocispec.Manifest{}, false, nil
	}
	var m ocispec.Manifest
	if err := decodeJSON(data, "manifest "+desc.Digest.String(), &m); err != nil {
		return ocispec.Manifest{}, false, err
	}
	if m.Config.MediaType != ocispec.MediaTypeImageConfig && m.Config.MediaType != mediaTypeDockerConfig {
		return ocispec.Manifest{}, false, nil
	}
	return m, w.hasAll(append(slices.Clone(m.Layers), m.Config)), nil
}

func (w *Writer) hasAll(descs []ocispec.Descriptor) bool {
	for _, d := range descs {
		if _, ok := w.blobs[d.Digest]; !ok {
			return false
		}
	}
	return true
}

// splitTag splits a tagged reference into repository and tag.
func splitTag(ref string) (string, string) {
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

func blobPath(d digest.Digest) string {
	return blobsDir + "/" + d.Algorithm().String() + "/" + d.Encoded()
}

// ensureDirs writes the directory entries blobs/ and blobs/ALG/ before the first blob of ALG.
func (w *Writer) ensureDirs(alg digest.Algorithm) error {
	for _, dir := range []string{blobsDir + "/", blobsDir + "/" + alg.String() + "/"} {
		if w.dirs[dir] {
			continue
		}
		if err := w.writeHeader(dir, '5', 0o755, 0); err != nil {
			return err
		}
		w.dirs[dir] = true
	}
	return nil
}

// putKnown streams a blob of known digest and size, hashed through hr: header, then data.
func (w *Writer) putKnown(hr *hashing.Reader, d digest.Digest, size int64) error {
	start := w.pos
	err := w.writeEntry(blobPath(d), hr, size)
	if err == nil {
		err = hr.ExpectEOF(size)
	}
	if err == nil {
		err = hr.Verify(d, size)
	}
	if err != nil {
		return w.rewind(start, err)
	}
	w.blobs[d] = size
	return nil
}

// putPatched streams a blob of unknown digest or size behind a placeholder
// header, then rewrites the header in place.
func (w *Writer) putPatched(r io.Reader, alg digest.Algorithm, d digest.Digest, size int64) (digest.Digest, int64, error) {
	start := w.pos
	placeholder := blobPath(digest.NewDigestFromEncoded(alg, strings.Repeat("0", alg.Size()*2)))
	if err := w.writeHeader(placeholder, '0', 0o644, 0); err != nil {
		return "", 0, err
	}
	hr := hashing.NewReader(r, alg)
	n, err := io.Copy(writerFunc(w.write), hr)
	got := hr.Digest()
	if err == nil {
		err = hr.Verify(d, size)
	}
	if _, dup := w.blobs[got]; err != nil || dup {
		return got, n, w.rewind(start, err)
	}
	if err := w.pad(n); err != nil {
		return "", 0, err
	}
	end := w.pos
	hdr, err := ustarHeader(blobPath(got), '0', 0o644, n, w.mtime)
	if err != nil {
		return "", 0, w.rewind(start, err)
	}
	if err := w.writeAt(hdr[:], start); err != nil {
		return "", 0, err
	}
	w.pos = end
	w.blobs[got] = n
	return got, n, nil
}

// putSpooled reads a blob of unknown digest or size into a temporary file,
// then writes it with its header.
func (w *Writer) putSpooled(r io.Reader, alg digest.Algorithm, d digest.Digest, size int64) (digest.Digest, int64, error) {
	tmp, err := os.CreateTemp(w.opts.TempDir, "ocitar-blob-*")
	if err != nil {
		return "", 0, fmt.Errorf("spooling a blob: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	hr := hashing.NewReader(r, alg)
	n, err := io.Copy(tmp, hr)
	if err != nil {
		return "", 0, fmt.Errorf("spooling a blob to %s: %w", tmp.Name(), err)
	}
	got := hr.Digest()
	if err := hr.Verify(d, size); err != nil {
		return "", 0, err
	}
	if _, dup := w.blobs[got]; dup {
		return got, n, nil
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	start := w.pos
	if err := w.writeEntry(blobPath(got), tmp, n); err != nil {
		return "", 0, w.rewind(start, err)
	}
	w.blobs[got] = n
	return got, n, nil
}

// rewind forgets what was written since start, so that a failed blob leaves
// nothing behind. On an output that cannot seek the archive is then unusable.
func (w *Writer) rewind(start int64, cause error) error {
	if w.seeker == nil {
		if cause != nil && w.err == nil {
			w.err = fmt.Errorf("the archive holds part of a failed blob: %w", cause)
		}
		return cause
	}
	if _, err := w.seeker.Seek(w.base+start, io.SeekStart); err != nil {
		w.err = err
		return err
	}
	w.pos = start
	return cause
}

// writeEntry writes a regular file of exactly size bytes from r.
func (w *Writer) writeEntry(name string, r io.Reader, size int64) error {
	if err := w.writeHeader(name, '0', 0o644, size); err != nil {
		return err
	}
	n, err := pipeCopy(w.write, r, size)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%w: %s: %d bytes, %d declared", ErrSizeMismatch, name, n, size)
	}
	return w.pad(size)
}

func (w *Writer) writeFile(name string, data []byte) error {
	return w.writeEntry(name, bytes.NewReader(data), int64(len(data)))
}

func (w *Writer) writeHeader(name string, typeflag byte, mode, size int64) error {
	hdr, err := ustarHeader(name, typeflag, mode, size, w.mtime)
	if err != nil {
		return err
	}
	if err := w.endFrame(); err != nil {
		return err
	}
	return w.write(hdr[:])
}

// endFrame ends the frame of a FramedOutput, so that the entry written next
// starts a frame of its own.
func (w *Writer) endFrame() error {
	f, ok := w.out.(FramedOutput)
	if !ok || w.err != nil {
		return w.err
	}
	if err := f.EndFrame(); err != nil {
		w.err = err
	}
	return w.err
}

func (w *Writer) pad(size int64) error {
	return w.write(make([]byte, blocks(size)-size))
}

func (w *Writer) write(p []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.out.Write(p)
	w.pos += int64(n)
	if err != nil {
		w.err = err
	}
	return err
}

// writeAt rewrites bytes already written, at archive offset off, and leaves
// the output positioned at its end.
func (w *Writer) writeAt(p []byte, off int64) error {
	_, err := w.seeker.Seek(w.base+off, io.SeekStart)
	if err == nil {
		_, err = w.out.Write(p)
	}
	if err == nil {
		_, err = w.seeker.Seek(w.base+w.pos, io.SeekStart)
	}
	if err != nil {
		w.err = err
	}
	return err
}

// writerFunc lets io.Copy write through Writer.write.
type writerFunc func([]byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// hashChunk is how many bytes a hashingReader gathers before it hashes them
// on another goroutine.
