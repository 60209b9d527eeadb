package recording

import (
	"context"
	"errors"
	"fmt"
	"io"

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
	sum, err := r.write(ctx, st, images)
	if err != nil {
		return Summary{}, err
	}
	if err := writeLockList(r.path+".lock.json", images); err != nil {
		return Summary{}, err
	}
	sum.LeftOut = leftOut
	return sum, nil
}

// awaitReferrers waits for the referrers looked up so far to be recorded.
func (r *Recording) awaitReferrers(ctx context.Context) error {
	r.mu.Lock()
	var pending []chan struct{}
	for _, done := range r.referrers {
		pending = append(pending, done)
	}
	r.mu.Unlock()
	for _, done := range pending {
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
	failed := map[digest.Digest]error{}
	for _, f := range fetches {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("recording to %s: fetching blobs: %w", r.path, ctx.Err())
		}
		if f.err != nil {
			failed[f.desc.Digest] = f.err
		} else {
			st.blobs[f.desc.Digest] = blob{repo: f.repo, size: f.desc.Size}
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

// write writes the images to a temporary file beside path and renames it into place.
func (r *Recording) write(ctx context.Context, st *state, images []planned) (Summary, error) {
	f, err := pending.Create(r.path)
	if err != nil {
		return Summary{}, fmt.Errorf("recording: %w", err)
	}
	sum, err := r.writeArchive(ctx, f, st, images)
	if err != nil {
		f.Abort()
		return Summary{}, fmt.Errorf("recording to %s: %w", r.path, err)
	}
	if err := f.Commit(); err != nil {
		return Summary{}, fmt.Errorf("recording: %w", err)
	}
	return sum, nil
}

// writeArchive writes the images to out as an archive, compressed as path's name says.
func (r *Recording) writeArchive(ctx context.Context, out io.Writer, st *state, images []planned) (Summary, error) {
	z, err := archive.NewCompressor(out, archive.CompressionByName.For(r.path))
	if err != nil {
		return Summary{}, err
	}
	w := archive.NewWriter(z, archive.WriterOptions{Format: r.opts.Format})
	var sum Summary
	for _, img := range images {
		for _, b := range img.blobs {
			if _, ok := w.Has(b.Digest); ok {
				continue
			}
			if err := r.putBlob(ctx, w, st, b); err != nil {
				return Summary{}, fmt.Errorf("image %s: %w", img.entry, err)
			}
			sum.Blobs++
			sum.Bytes += b.Size
		}
		if err := w.AddImage(img.indexDescriptor(), img.repoTags()); err != nil {
			return Summary{}, err
		}
		sum.Images++
	}
	if err := w.Close(); err != nil {
		return Summary{}, err
	}
	return sum, z.Close()
}

// putBlob writes blob b: a manifest from memory, any other from the seed or
// through Content, verified as it is written.
func (r *Recording) putBlob(ctx context.Context, w *archive.Writer, st *state, b ocispec.Descriptor) error {
	if m, ok := st.manifests[b.Digest]; ok {
		_, err := w.PutManifest(m.data, m.mediaType)
		return err
	}
	src := st.blobs[b.Digest]
	if src.seeded {
		_, err := w.CopyBlob(r.seed, b.Digest)
		return err
	}
	rc, _, err := r.content.OpenBlob(ctx, src.repo, b.Digest)
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, err)
	}
	defer rc.Close()
	if _, _, err := w.PutBlob(rc, b.Digest, b.Size); err != nil {
		return fmt.Errorf("blob %s of %s: %w", b.Digest, src.repo, err)
	}
	return nil
}
