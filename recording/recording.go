package recording

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/pending"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Content is where a Recording reads what it records: ocitar serve's archives and upstreams, by repository name
// as recorded (REGISTRY/PATH or PATH). What is not there wraps fs.ErrNotExist.
type Content interface {
	Manifest(ctx context.Context, name, ref string) (data []byte, mediaType string, d digest.Digest, err error)
	OpenBlob(ctx context.Context, name string, d digest.Digest) (io.ReadCloser, int64, error)
	// FetchBlob makes sure that blob d is held whole and checked, for a later
	// OpenBlob, without reading it out, and returns its size.
	FetchBlob(ctx context.Context, name string, d digest.Digest) (int64, error)
	Referrers(ctx context.Context, name string, d digest.Digest) ([]ocispec.Descriptor, error)
}

// Options tune a Recording.
type Options struct {
	Referrers bool           // record referrers and cosign tags sha256-HEX.sig/.att/.sbom of each pulled manifest
	Log       func(string)   // one line per problem (an image left out, and why); nil discards
	Format    archive.Format // default hybrid
}

// Summary is what a Snapshot wrote.
type Summary struct {
	Images  int   // entries of index.json: one per name, one per referrer
	Blobs   int   // manifests, indexes, configs and layers, each once
	Bytes   int64 // the size of those blobs
	LeftOut int   // images not written, as they could not be had whole
}

// backgroundLimit is how many fetches and referrer look-ups run at once.
const backgroundLimit = 4

// cosignSuffixes end the tags sha256-HEX.sig, .att and .sbom that cosign gives
// what it attaches to digest sha256:HEX.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// Recording collects what a mirror served; Snapshot writes it to its path.
// Its methods are safe for concurrent use.
type Recording struct {
	path    string
	content Content
	opts    Options
	ctx     context.Context // of the background work
	seed    *archive.Reader // the archive that was at path, or nil
	limit   chan struct{}   // one token per background job running
	work    sync.WaitGroup

	snapshotting sync.Mutex // held by Snapshot and Close

	mu        sync.Mutex
	closed    bool
	st        *state
	fetches   map[digest.Digest]*fetch
	referrers map[digest.Digest]chan struct{} // closed once the referrers of the digest are recorded
}

// fetch is a blob being read through Content; err is set when done is closed.
type fetch struct {
	desc ocispec.Descriptor
	repo string
	done chan struct{}
	err  error
}

// New starts a recording to path. If path exists, it is opened as an archive and its images are kept (a second
// run adds to the first); a path that is not a readable archive is an error naming it.
// Background work (fetches, referrers) runs under ctx: cancelling it ends that work sooner.
func New(ctx context.Context, path string, content Content, opts Options) (*Recording, error) {
	r := &Recording{
		path: path, content: content, opts: opts, ctx: ctx,
		limit: make(chan struct{}, backgroundLimit), st: newState(),
		fetches: map[digest.Digest]*fetch{}, referrers: map[digest.Digest]chan struct{}{},
	}
	left, err := pending.RemoveLeftovers(path)
	if err != nil {
		return nil, fmt.Errorf("removing what a snapshot cut short left beside %s: %w", path, err)
	}
	for _, name := range left {
		r.logf("recording: removed %s, left by a snapshot cut short", name)
	}
	if r.seed, err = openSeed(path, r.st); err != nil {
		return nil, err
	}
	return r, nil
}

// Manifest records a manifest or index served: under name:ref when ref is a tag, name@digest when by digest
// (a digest that turns out to be a platform manifest of a recorded index is part of that index, not an image).
func (r *Recording) Manifest(name, ref string, desc ocispec.Descriptor, data []byte) {
	image, err := imageName(name, ref, desc.Digest)
	if err == nil {
		err = checkManifest(desc, data)
	}
	if err != nil {
		r.logf("recording: manifest %s of %s not recorded: %v", ref, name, err)
		return
	}
	r.record(name, image, desc, slices.Clone(data), r.opts.Referrers)
}

// Blob records a config or layer served whole and verified.
func (r *Recording) Blob(name string, desc ocispec.Descriptor) {
	if err := desc.Digest.Validate(); err != nil {
		r.logf("recording: blob of %s not recorded: %v", name, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.st.blobs[desc.Digest]; !ok && !r.closed {
		r.st.blobs[desc.Digest] = blob{repo: name, size: desc.Size}
	}
}

// Close waits for the background work (referrers, missing blobs) and closes
// the archive the recording started from; it writes no snapshot. What is
// recorded after it is ignored.
func (r *Recording) Close() error {
	r.snapshotting.Lock()
	defer r.snapshotting.Unlock()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.work.Wait()
	if r.seed != nil {
		return r.seed.Close()
	}
	return nil
}

// record keeps a verified manifest as image ("" for a referrer, which has no
// name) of repository repo, and starts fetching what it names that is not
// recorded, and looking up its referrers when lookUp is set.
func (r *Recording) record(repo, image string, desc ocispec.Descriptor, data []byte, lookUp bool) {
	m := manifest{data: data, mediaType: mediaTypeOf(desc, data)}
	var members []ocispec.Descriptor
	if archive.IsManifest(m.mediaType) {
		var err error
		if members, err = manifestBlobs(data); err != nil {
			r.logf("recording: manifest %s of %s not recorded: %v", desc.Digest, repo, err)
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.st.manifests[desc.Digest] = m
	r.st.addImage(image, imageRecord{digest: desc.Digest, repo: repo})
	for _, b := range members {
		r.fetchLocked(repo, b)
	}
	if lookUp {
		r.lookUpReferrersLocked(repo, desc.Digest)
	}
}

// goLocked runs job in the background, at most backgroundLimit at once.
// The caller holds r.mu and the recording is not closed.
func (r *Recording) goLocked(job func()) {
	r.work.Add(1)
	go func() {
		defer r.work.Done()
		select {
		case r.limit <- struct{}{}:
			defer func() { <-r.limit }()
		case <-r.ctx.Done(): // job fails at once with the context's error
		}
		job()
	}()
}

// fetchLocked is the fetch of blob desc through Content, started unless one
// runs; it is done at once when the blob is recorded.
func (r *Recording) fetchLocked(repo string, desc ocispec.Descriptor) *fetch {
	if f, ok := r.fetches[desc.Digest]; ok {
		return f
	}
	f := &fetch{desc: desc, repo: repo, done: make(chan struct{})}
	if _, ok := r.st.blobs[desc.Digest]; ok {
		close(f.done)
		return f
	}
	r.fetches[desc.Digest] = f
	r.goLocked(func() { r.runFetch(f) })
	return f
}

// runFetch has Content fetch the blob of f, which it keeps, unless a
// client fetched it meanwhile, and records it; a failed fetch is forgotten,
// for the next snapshot to try again.
func (r *Recording) runFetch(f *fetch) {
	if !r.recorded(f.desc.Digest) {
		f.err = fetchMissing(r.ctx, r.content, f.repo, f.desc)
	}
	r.mu.Lock()
	delete(r.fetches, f.desc.Digest)
	if _, ok := r.st.blobs[f.desc.Digest]; !ok && f.err == nil {
		r.st.blobs[f.desc.Digest] = blob{repo: f.repo, size: f.desc.Size}
	}
	r.mu.Unlock()
	close(f.done)
}

func (r *Recording) recorded(d digest.Digest) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.st.blobs[d]
	return ok
}

// fetchMissing has content fetch blob desc of repo, which no client fetched.
func fetchMissing(ctx context.Context, content Content, repo string, desc ocispec.Descriptor) error {
	n, err := content.FetchBlob(ctx, repo, desc.Digest)
	if err == nil && n != desc.Size {
		err = fmt.Errorf("%w: blob %s of %s: %d bytes, %d declared", archive.ErrSizeMismatch, desc.Digest, repo, n, desc.Size)
	}
	return err
}

// lookUpReferrersLocked starts recording the referrers and cosign tags of
// digest d of repo, once per digest.
func (r *Recording) lookUpReferrersLocked(repo string, d digest.Digest) {
	if _, ok := r.referrers[d]; ok {
		return
	}
	done := make(chan struct{})
	r.referrers[d] = done
	r.goLocked(func() {
		defer close(done)
		r.recordReferrers(repo, d)
	})
}

// recordReferrers records the referrers of d as images without a name and
// its cosign tags under their names; their own referrers are not looked up.
func (r *Recording) recordReferrers(repo string, d digest.Digest) {
	descs, err := r.content.Referrers(r.ctx, repo, d)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.logf("recording: referrers of %s@%s left out: %v", repo, d, err)
	}
	for _, desc := range descs {
		r.recordFetched(repo, desc.Digest.String(), "", desc.Digest)
	}
	for _, suffix := range cosignSuffixes {
		tag := d.Algorithm().String() + "-" + d.Encoded() + suffix
		r.recordFetched(repo, tag, repo+":"+tag, "")
	}
}

// recordFetched records manifest ref of repo, read through Content, as image
// ("" for none); want, when set, is the digest it must have. One that is not
// there is no problem when it is looked up by tag.
func (r *Recording) recordFetched(repo, ref, image string, want digest.Digest) {
	data, mediaType, d, err := r.content.Manifest(r.ctx, repo, ref)
	if errors.Is(err, fs.ErrNotExist) && want == "" {
		return
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
	if err == nil && want != "" && d != want {
		err = fmt.Errorf("%w: the manifest served is %s", archive.ErrDigestMismatch, d)
	}
	if err == nil {
		err = checkManifest(desc, data)
	}
	if err != nil {
		what := image
		if what == "" {
			what = repo + "@" + ref + " (a referrer)"
		}
		r.logf("recording: %s left out: %v", what, err)
		return
	}
	r.record(repo, image, desc, data, false)
}

func (r *Recording) logf(format string, args ...any) {
	if r.opts.Log != nil {
		r.opts.Log(fmt.Sprintf(format, args...))
	}
}

// imageName is the image manifest d of name served as ref is: NAME@DIGEST
// for a digest, which must be d, else NAME:TAG.
func imageName(name, ref string, d digest.Digest) (string, error) {
	image := name + ":" + ref
	if byDigest, err := digest.Parse(ref); err == nil {
		if byDigest != d {
			return "", fmt.Errorf("%w: asked for by digest, %s was served", archive.ErrDigestMismatch, d)
		}
		image = name + "@" + ref
	}
	return image, archive.ValidateRefName(image)
}

// checkManifest checks that data is the manifest desc describes.
func checkManifest(desc ocispec.Descriptor, data []byte) error {
	if err := desc.Digest.Validate(); err != nil {
		return err
	}
	if got := desc.Digest.Algorithm().FromBytes(data); got != desc.Digest {
		return fmt.Errorf("%w: %d bytes of digest %s, %s declared", archive.ErrDigestMismatch, len(data), got, desc.Digest)
	}
	if len(data) > archive.MaxManifestSize {
		return fmt.Errorf("%w: manifest %s is %d bytes, the limit is %d", archive.ErrTooLarge, desc.Digest, len(data), archive.MaxManifestSize)
	}
	return nil
}

// mediaTypeOf is the media type of a manifest: its descriptor's, else its
// own mediaType, else what its fields say it is.
func mediaTypeOf(desc ocispec.Descriptor, data []byte) string {
	if desc.MediaType != "" {
		return desc.MediaType
	}
	var probe struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	_ = json.Unmarshal(data, &probe) // what cannot be parsed has no type, and is left out at snapshot
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return ocispec.MediaTypeImageIndex
	case probe.Config != nil:
		return ocispec.MediaTypeImageManifest
	}
	return ""
}
