package recording

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/pending"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxIndexDepth is how deep indexes may nest, the archive reader's own limit.
const maxIndexDepth = 8

// errClosed is Snapshot's error after Close.
var errClosed = errors.New("the recording is closed")

// planned is an image to write: its manifest or index and its blobs,
// members before what lists them.
type planned struct {
	entry
	desc  ocispec.Descriptor
	blobs []ocispec.Descriptor
}

// Snapshot writes path atomically (temp file in path's directory, fsync, rename, fsync dir) and the lock list
// path+".lock.json" the same way. Only whole images go in: every platform manifest with its config and layers;
// an index whole, listing all its platforms, with the platform manifests that were pulled. Blobs a recorded
// manifest names that no client fetched (a client had them) are fetched through Content first.
func (r *Recording) Snapshot(ctx context.Context) (Summary, error) {
	r.snapshotting.Lock()
	defer r.snapshotting.Unlock()
	if err := r.awaitReferrers(ctx); err != nil {
		return Summary{}, err
	}
	st, err := r.copyState()
	if err != nil {
		return Summary{}, err
	}
	entries := st.entries()
	failed, err := r.fetchMissing(ctx, st, entries)
	if err != nil {
		return Summary{}, err
	}
	images, leftOut := r.plan(st, entries, failed)
	out, written, sum, err := r.write(ctx, st, images)
	if err != nil {
		return Summary{}, err
	}
	lock, err := writeLockList(r.path+".lock.json", written)
	if err != nil {
		out.Abort()
		return Summary{}, err
	}
	if err := out.Commit(); err != nil {
		lock.Abort()
		return Summary{}, fmt.Errorf("recording: %w", err)
	}
	if err := lock.Commit(); err != nil {
		return Summary{}, fmt.Errorf("recording: %w", err)
	}
	sum.LeftOut += leftOut
	return sum, nil
}

// awaitReferrers waits for the referrers looked up so far to be recorded.
func (r *Recording) awaitReferrers(ctx context.Context) error {
	r.mu.Lock()
	var lookUps []chan struct{}
	for _, done := range r.referrers {
		lookUps = append(lookUps, done)
	}
	r.mu.Unlock()
	for _, done := range lookUps {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("recording to %s: waiting for referrers: %w", r.path, ctx.Err())
		}
	}
	return nil
}

func (r *Recording) copyState() (*state, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("recording to %s: %w", r.path, errClosed)
	}
	return r.st.clone(), nil
}

// fetchMissing fetches through Content the blobs the entries need that st
// lacks, adds to st those it could have, and returns why it could not have
// the others.
func (r *Recording) fetchMissing(ctx context.Context, st *state, entries []entry) (map[digest.Digest]error, error) {
	var fetches []*fetch
	p := planner{st: st, have: func(repo string, b ocispec.Descriptor) error {
		if _, ok := st.blobs[b.Digest]; !ok {
			r.mu.Lock()
			fetches = append(fetches, r.fetchLocked(repo, b))
			r.mu.Unlock()
		}
		return nil
	}}
	for _, e := range entries {
		p.walk(e.repo, e.digest, 0) // what cannot be walked, plan leaves out
	}
	for _, f := range fetches {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("recording to %s: fetching blobs: %w", r.path, ctx.Err())
		}
	}
	failed := map[digest.Digest]error{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fetches {
		if f.err != nil {
			failed[f.desc.Digest] = f.err
		} else {
			st.blobs[f.desc.Digest] = r.st.blobs[f.desc.Digest] // as runFetch or a client recorded it
		}
	}
	return failed, nil
}

// plan is what to write of each entry, and how many entries are left out,
// each with a log line.
func (r *Recording) plan(st *state, entries []entry, failed map[digest.Digest]error) ([]planned, int) {
	var images []planned
	leftOut := 0
	for _, e := range entries {
		p := planner{st: st, have: func(_ string, b ocispec.Descriptor) error {
			if _, ok := st.blobs[b.Digest]; ok {
				return nil
			}
			if err := failed[b.Digest]; err != nil {
				return err
			}
			return errors.New("not recorded")
		}, leftOut: func(msg string) { r.logf("recording: image %s: %s", e, msg) }}
		blobs, err := p.walk(e.repo, e.digest, 0)
		if err != nil {
			r.logf("recording: image %s left out: %v", e, err)
			leftOut++
			continue
		}
		images = append(images, planned{entry: e, desc: blobs[len(blobs)-1], blobs: blobs}) // walk ends with the image's own descriptor
	}
	return images, leftOut
}

// indexDescriptor is how index.json lists the image.
func (img planned) indexDescriptor() ocispec.Descriptor {
	desc := img.desc
	if img.name != "" {
		desc.Annotations = archive.NameAnnotations(img.name)
	}
	return desc
}

// repoTags name the image in docker's manifest.json.
func (img planned) repoTags() []string {
	if tag, ok := archive.RepoTag(img.name); ok {
		return []string{tag}
	}
	return nil
}

// planner walks an image: the blobs to write, members before what lists them.
type planner struct {
	st      *state
	have    func(repo string, b ocispec.Descriptor) error // nil when b, a config or layer, can be written
	leftOut func(msg string)                              // told of each platform of an index left out; nil discards
}

func (p planner) walk(repo string, d digest.Digest, depth int) ([]ocispec.Descriptor, error) {
	m, ok := p.st.manifests[d]
	if !ok {
		return nil, fmt.Errorf("manifest %s not recorded", d)
	}
	desc := ocispec.Descriptor{MediaType: m.mediaType, Digest: d, Size: int64(len(m.data))}
	switch {
	case archive.IsIndex(m.mediaType):
		return p.walkIndex(repo, desc, m.data, depth)
	case archive.IsManifest(m.mediaType):
		return p.walkManifest(repo, desc, m.data)
	}
	return nil, fmt.Errorf("manifest %s: media type %q is neither an image manifest nor an index", d, m.mediaType)
}

func (p planner) walkManifest(repo string, desc ocispec.Descriptor, data []byte) ([]ocispec.Descriptor, error) {
	members, err := manifestBlobs(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	var blobs []ocispec.Descriptor
	for _, b := range members {
		err := p.have(repo, b)
		switch {
		case err == nil:
			blobs = append(blobs, b)
		case len(b.URLs) == 0: // a foreign layer is fetched from its URLs by whoever needs it
			return nil, fmt.Errorf("blob %s: %w", b.Digest, err)
		}
	}
	return append(blobs, desc), nil
}

// walkIndex walks the members of an index that were recorded, leaving out
// those that are not whole; an index with none whole is left out.
func (p planner) walkIndex(repo string, desc ocispec.Descriptor, data []byte, depth int) ([]ocispec.Descriptor, error) {
	if depth >= maxIndexDepth {
		return nil, fmt.Errorf("index %s: indexes nested deeper than %d", desc.Digest, maxIndexDepth)
	}
	children, err := indexChildren(data)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
	}
	var blobs []ocispec.Descriptor
	for _, c := range children {
		if _, ok := p.st.manifests[c.Digest]; !ok {
			continue // not pulled: absent, as in an archive of some platforms
		}
		member, err := p.walk(repo, c.Digest, depth+1)
		if err != nil {
			p.tellLeftOut(fmt.Sprintf("platform manifest %s left out: %v", c.Digest, err))
			continue
		}
		blobs = append(blobs, member...)
	}
	if len(blobs) == 0 {
		return nil, fmt.Errorf("index %s: none of its platforms was recorded whole", desc.Digest)
	}
	return append(blobs, desc), nil
}

func (p planner) tellLeftOut(msg string) {
	if p.leftOut != nil {
		p.leftOut(msg)
	}
}

// write writes the images to a temporary file beside path, for the caller to
// commit. It returns those written: an image is left out, and logged, when
// Content no longer has a blob of it.
func (r *Recording) write(ctx context.Context, st *state, images []planned) (*pending.File, []planned, Summary, error) {
	f, err := pending.Create(r.path)
	if err != nil {
		return nil, nil, Summary{}, fmt.Errorf("recording: %w", err)
	}
	written, sum, err := r.writeArchive(ctx, f, st, images)
	if err != nil {
		f.Abort()
		return nil, nil, Summary{}, fmt.Errorf("recording to %s: %w", r.path, err)
	}
	return f, written, sum, nil
}

// writeArchive writes the images to out as an archive, compressed as path's name says.
func (r *Recording) writeArchive(ctx context.Context, out io.Writer, st *state, images []planned) ([]planned, Summary, error) {
	z, err := archive.NewCompressor(out, archive.CompressionByName.For(r.path))
	if err != nil {
		return nil, Summary{}, err
	}
	w := archive.NewWriter(z, archive.WriterOptions{Format: r.opts.Format})
	var sum Summary
	var written []planned
	for _, img := range images {
		ok, err := r.writeImage(ctx, w, st, img, &sum)
		if err != nil {
			return nil, Summary{}, fmt.Errorf("image %s: %w", img.entry, err)
		}
		if ok {
			written = append(written, img)
		}
	}
	if err := w.Close(); err != nil {
		return nil, Summary{}, err
	}
	return written, sum, z.Close()
}

// writeImage writes the blobs of img that w lacks, and lists it. When
// Content no longer has one of them, img is left out before any is written.
func (r *Recording) writeImage(ctx context.Context, w *archive.Writer, st *state, img planned, sum *Summary) (bool, error) {
	opened, err := r.openBlobs(ctx, w, st, img.blobs)
	defer closeAll(opened)
	if errors.Is(err, fs.ErrNotExist) {
		r.logf("recording: image %s left out: %v", img.entry, err)
		sum.LeftOut++
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, b := range img.blobs {
		if _, ok := w.Has(b.Digest); ok {
			continue
		}
		if err := r.putBlob(w, st, b, opened[b.Digest]); err != nil {
			return false, err
		}
		sum.Blobs++
		sum.Bytes += b.Size
	}
	if err := w.AddImage(img.indexDescriptor(), img.repoTags()); err != nil {
		return false, err
	}
	sum.Images++
	return true, nil
}

// openBlobs opens through Content the blobs w lacks that are neither
// manifests nor in the seed. It returns those it opened, also on error.
func (r *Recording) openBlobs(ctx context.Context, w *archive.Writer, st *state, blobs []ocispec.Descriptor) (map[digest.Digest]io.ReadCloser, error) {
	opened := map[digest.Digest]io.ReadCloser{}
	for _, b := range blobs {
		_, written := w.Has(b.Digest)
		_, isManifest := st.manifests[b.Digest]
		_, isOpen := opened[b.Digest]
		src := st.blobs[b.Digest]
		if written || isManifest || isOpen || src.seeded {
			continue
		}
		rc, _, err := r.content.OpenBlob(ctx, src.repo, b.Digest)
		if err != nil {
			return opened, fmt.Errorf("blob %s: %w", b.Digest, err)
		}
		opened[b.Digest] = rc
	}
	return opened, nil
}

func closeAll(opened map[digest.Digest]io.ReadCloser) {
	for _, rc := range opened {
		rc.Close()
	}
}

// putBlob writes blob b, verified as it is written: a manifest from memory,
// a blob of the seed from the seed, any other from rc, opened through Content.
func (r *Recording) putBlob(w *archive.Writer, st *state, b ocispec.Descriptor, rc io.Reader) error {
	if m, ok := st.manifests[b.Digest]; ok {
		_, err := w.PutManifest(m.data, m.mediaType)
		return err
	}
	src := st.blobs[b.Digest]
	if src.seeded {
		_, err := w.CopyBlob(r.seed, b.Digest)
		return err
	}
	if _, _, err := w.PutBlob(rc, b.Digest, b.Size); err != nil {
		return fmt.Errorf("blob %s of %s: %w", b.Digest, src.repo, err)
	}
	return nil
}
