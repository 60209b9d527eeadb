package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeUpstream serves one repository per registry name ("" for names asked
// without ns), from memory, and counts what it is asked.
type fakeUpstream struct {
	repos map[string]*fakeRepository

	mu    sync.Mutex
	asked []string // "manifest REF", "blob D", "referrers D", in order
}

type fakeRepository struct {
	up        *fakeUpstream
	name      string
	manifests map[string][]byte // by tag and by digest
	blobs     map[digest.Digest][]byte
	referrers map[digest.Digest][]ocispec.Descriptor
	failing   error           // every call's error when set
	badBlobs  []digest.Digest // blobs whose readers fail at their end
}

// Route routes as upstream.Set does: by ns, else by a name's first component.
func (u *fakeUpstream) Route(ns, name string) (UpstreamRepository, bool) {
	if first, _, ok := strings.Cut(name, "/"); ok && ns == "" && u.repos[first] != nil {
		ns = first
	}
	r, ok := u.repos[ns]
	return r, ok
}

func (u *fakeUpstream) ask(what string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asked = append(u.asked, what)
}

func (u *fakeUpstream) questions() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.asked)
}

func (r *fakeRepository) Name() string { return r.name }

func (r *fakeRepository) Manifest(_ context.Context, ref string, _ []string) ([]byte, string, digest.Digest, error) {
	r.up.ask("manifest " + ref)
	if r.failing != nil {
		return nil, "", "", r.failing
	}
	data, ok := r.manifests[ref]
	if !ok {
		return nil, "", "", fmt.Errorf("upstream: manifest %s: %w", ref, fs.ErrNotExist)
	}
	return data, ocispec.MediaTypeImageManifest, digest.FromBytes(data), nil
}

func (r *fakeRepository) Blob(_ context.Context, d digest.Digest) (int64, func(context.Context, int64) (io.ReadCloser, error), error) {
	r.up.ask("blob " + d.String())
	if r.failing != nil {
		return 0, nil, r.failing
	}
	data, ok := r.blobs[d]
	if !ok {
		return 0, nil, fmt.Errorf("upstream: blob %s: %w", d, fs.ErrNotExist)
	}
	open := func(_ context.Context, start int64) (io.ReadCloser, error) {
		var body io.Reader = bytes.NewReader(data[start:])
		if slices.Contains(r.badBlobs, d) {
			body = io.MultiReader(io.LimitReader(body, int64(len(data))-start-1), failingAfter{errUpstreamBlob})
		}
		return io.NopCloser(body), nil
	}
	return int64(len(data)), open, nil
}

func (r *fakeRepository) Referrers(_ context.Context, d digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	r.up.ask("referrers " + d.String())
	return r.referrers[d], r.failing
}

var errUpstreamBlob = errors.New("upstream: blob fails its digest")

// failingAfter is a reader that fails.
type failingAfter struct{ err error }

func (f failingAfter) Read([]byte) (int, error) { return 0, f.err }

// upstreamFixture is an upstream of one image beside the archive of newFixture.
type upstreamFixture struct {
	fixture
	up                   *fakeUpstream
	manifest             []byte
	manifestDigest, blob digest.Digest
	blobData             []byte
	referrer             ocispec.Descriptor
	pulls                *pullLog
}

// pullLog collects what Options.Pulled gets.
type pullLog struct {
	mu    sync.Mutex
	pulls []string // "NAME REF DIGEST manifest|blob"
}

func (p *pullLog) add(pull Pull) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kind := "blob"
	if pull.Manifest != nil {
		kind = "manifest"
	}
	p.pulls = append(p.pulls, fmt.Sprintf("%s %s %s %s", pull.Name, pull.Reference, pull.Descriptor.Digest, kind))
}

func (p *pullLog) taken() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.pulls
	p.pulls = nil
	return out
}

func newUpstreamFixture(t *testing.T) upstreamFixture {
	f := upstreamFixture{fixture: newFixture(t), up: &fakeUpstream{}, pulls: &pullLog{}}
	f.blobData = testimage.Bytes(7, 200<<10)
	f.blob = digest.FromBytes(f.blobData)
	f.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"layers":[{"digest":%q}]}`, ocispec.MediaTypeImageManifest, f.blob))
	f.manifestDigest = digest.FromBytes(f.manifest)
	f.referrer = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("sig"), Size: 3, ArtifactType: "application/vnd.example.sig"}
	named := &fakeRepository{up: f.up, name: "example.com/team/up",
		manifests: map[string][]byte{"1": f.manifest, f.manifestDigest.String(): f.manifest, "9": f.manifest},
		blobs:     map[digest.Digest][]byte{f.blob: f.blobData, f.bigDigest: f.big},
		referrers: map[digest.Digest][]ocispec.Descriptor{f.manifestDigest: {f.referrer}},
	}
	bad, badBig := digest.FromString("bad"), digest.FromString("bad and big")
	failing := &fakeRepository{up: f.up, name: "down/app", failing: errors.New("upstream http://127.0.0.1:1: connection refused")}
	corrupt := &fakeRepository{up: f.up, name: "corrupt/app", blobs: map[digest.Digest][]byte{bad: []byte("not what bad names"), badBig: f.big}, badBlobs: []digest.Digest{bad, badBig}}
	f.up.repos = map[string]*fakeRepository{"example.com": named, "down.example": failing, "corrupt.example": corrupt}
	return f
}

// TestHandlerPullsThrough asks for what the archive lacks, which the
// upstream serves, and for what it has, which the upstream is never asked for.
func TestHandlerPullsThrough(t *testing.T) {
	f := newUpstreamFixture(t)
	srv, _, logs := serve(t, Options{Upstream: f.up, Pulled: f.pulls.add}, openArchive(t, f.path, "bundle"))
	up := "/v2/team/up"
	blob := up + "/blobs/" + f.blob.String() + "?ns=example.com"
	bad, badBig := digest.FromString("bad"), digest.FromString("bad and big")
	cases := []struct {
		name, method, path string
		header             map[string]string
		status             int
		code               string
		body               digest.Digest
		asked              []string
		pulls              []string
		cut                bool // the body ends early
	}{
		{name: "manifest by tag", path: up + "/manifests/1?ns=example.com", status: 200, body: f.manifestDigest,
			asked: []string{"manifest 1"}, pulls: []string{"example.com/team/up 1 " + f.manifestDigest.String() + " manifest"}},
		{name: "manifest head", method: "HEAD", path: up + "/manifests/1?ns=example.com", status: 200,
			asked: []string{"manifest 1"}, pulls: []string{"example.com/team/up 1 " + f.manifestDigest.String() + " manifest"}},
		{name: "manifest by digest", path: up + "/manifests/" + f.manifestDigest.String() + "?ns=example.com", status: 200, body: f.manifestDigest,
			asked: []string{"manifest " + f.manifestDigest.String()}, pulls: []string{"example.com/team/up " + f.manifestDigest.String() + " " + f.manifestDigest.String() + " manifest"}},
		{name: "manifest the upstream lacks", path: up + "/manifests/2?ns=example.com", status: 404, code: "MANIFEST_UNKNOWN", asked: []string{"manifest 2"}},
		{name: "tag the archive lacks", path: "/v2/team/app/manifests/9?ns=example.com", status: 200, body: f.manifestDigest,
			asked: []string{"manifest 9"}, pulls: []string{"example.com/team/up 9 " + f.manifestDigest.String() + " manifest"}},
		{name: "what the archive has", path: "/v2/team/app/manifests/1?ns=example.com", status: 200, body: f.app.Digest,
			pulls: []string{"example.com/team/up 1 " + f.app.Digest.String() + " manifest"}},
		{name: "blob", path: blob, status: 200, body: f.blob,
			asked: []string{"blob " + f.blob.String()}, pulls: []string{"example.com/team/up " + f.blob.String() + " " + f.blob.String() + " blob"}},
		{name: "blob range", path: blob, header: map[string]string{"Range": "bytes=10-19"}, status: 206, body: digest.FromBytes(f.blobData[10:20]),
			asked: []string{"blob " + f.blob.String()}},
		{name: "blob head", method: "HEAD", path: blob, status: 200, asked: []string{"blob " + f.blob.String()}},
		{name: "blob the archive has", path: up + "/blobs/" + f.bigDigest.String() + "?ns=example.com", status: 200, body: f.bigDigest,
			asked: []string{"blob " + f.bigDigest.String()}, pulls: []string{"example.com/team/up " + f.bigDigest.String() + " " + f.bigDigest.String() + " blob"}},
		{name: "blob the upstream lacks", path: up + "/blobs/" + digest.FromString("none").String() + "?ns=example.com", status: 404, code: "BLOB_UNKNOWN",
			asked: []string{"blob " + digest.FromString("none").String()}},
		{name: "small blob failing its digest", path: "/v2/app/blobs/" + bad.String() + "?ns=corrupt.example", status: 502, code: "UNKNOWN", asked: []string{"blob " + bad.String()}},
		{name: "large blob failing its digest", path: "/v2/app/blobs/" + badBig.String() + "?ns=corrupt.example", status: 200, cut: true, asked: []string{"blob " + badBig.String()}},
		{name: "upstream down", path: "/v2/app/manifests/1?ns=down.example", status: 502, code: "UNKNOWN", asked: []string{"manifest 1"}},
		{name: "ns without an upstream", path: "/v2/team/up/manifests/1?ns=quay.io", status: 404, code: "NAME_UNKNOWN"},
		{name: "no ns and no unnamed upstream", path: "/v2/team/up/manifests/1", status: 404, code: "NAME_UNKNOWN"},
		{name: "referrers", path: up + "/referrers/" + f.manifestDigest.String() + "?ns=example.com", status: 200,
			body:  digest.FromString(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":3,"artifactType":"application/vnd.example.sig"}]}`, ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest, f.referrer.Digest)),
			asked: []string{"referrers " + f.manifestDigest.String()}},
		{name: "tags of an upstream repository", path: up + "/tags/list?ns=example.com", status: 404, code: "NAME_UNKNOWN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(f.up.questions())
			resp := do(t, srv, firstNonEmpty(c.method, "GET"), c.path, c.header)
			if c.cut != (resp.err != nil) {
				t.Fatalf("reading the body: %v, want it cut: %v", resp.err, c.cut)
			}
			if resp.status != c.status || resp.code() != c.code {
				t.Fatalf("got %d %q, want %d %q: %s", resp.status, resp.code(), c.status, c.code, resp.body)
			}
			if c.body != "" && digest.FromBytes(resp.body) != c.body {
				t.Errorf("body %s is not %s: %.200s", digest.FromBytes(resp.body), c.body, resp.body)
			}
			if asked := f.up.questions()[before:]; !slices.Equal(asked, c.asked) {
				t.Errorf("the upstream was asked %q, want %q", asked, c.asked)
			}
			if pulls := f.pulls.taken(); !slices.Equal(pulls, c.pulls) {
				t.Errorf("pulled %q, want %q", pulls, c.pulls)
			}
		})
	}
	if lines := logs.matching("connection refused"); len(lines) != 1 {
		t.Errorf("the upstream's failure is logged %d times, want once: %q", len(lines), logs.lines)
	}
}

// TestHandlerContent reads manifests, blobs and referrers in process, as a
// recording does, from the archive and from the upstream.
func TestHandlerContent(t *testing.T) {
	f := newUpstreamFixture(t)
	_, h, _ := serve(t, Options{Upstream: f.up, Pulled: f.pulls.add}, openArchive(t, f.path, "bundle"))
	ctx := context.Background()
	cases := []struct {
		name, repo, ref string
		want            digest.Digest
		missing         bool
	}{
		{name: "archive manifest", repo: "example.com/team/app", ref: "1", want: f.app.Digest},
		{name: "upstream manifest by tag", repo: "example.com/team/up", ref: "1", want: f.manifestDigest},
		{name: "upstream manifest by digest", repo: "example.com/team/up", ref: f.manifestDigest.String(), want: f.manifestDigest},
		{name: "upstream lacks it", repo: "example.com/team/up", ref: "2", missing: true},
		{name: "no such repository", repo: "quay.io/team/up", ref: "1", missing: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, _, d, err := h.Manifest(ctx, c.repo, c.ref)
			if c.missing {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("got %v, want an error wrapping fs.ErrNotExist", err)
				}
				return
			}
			if err != nil || d != c.want || digest.FromBytes(data) != c.want {
				t.Fatalf("got %s (%s), %v; want %s", d, digest.FromBytes(data), err, c.want)
			}
		})
	}
	for _, b := range []struct {
		repo string
		d    digest.Digest
	}{{"example.com/team/app", f.bigDigest}, {"example.com/team/up", f.blob}} {
		rc, size, err := h.OpenBlob(ctx, b.repo, b.d)
		if err != nil {
			t.Fatalf("OpenBlob %s %s: %v", b.repo, b.d, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || digest.FromBytes(data) != b.d || int64(len(data)) != size {
			t.Errorf("blob %s of %s: %d bytes of %s, size %d, %v", b.d, b.repo, len(data), digest.FromBytes(data), size, err)
		}
	}
	if _, _, err := h.OpenBlob(ctx, "example.com/team/up", digest.FromString("none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a blob nobody has: %v, want fs.ErrNotExist", err)
	}
	for _, b := range []struct {
		repo string
		d    digest.Digest
		size int
		err  error
	}{
		{"example.com/team/app", f.bigDigest, len(f.big), nil},
		{"example.com/team/up", f.blob, len(f.blobData), nil},
		{"example.com/team/up", digest.FromString("none"), 0, fs.ErrNotExist},
		{"corrupt.example/app", digest.FromString("bad and big"), 0, errUpstreamBlob},
	} {
		if size, err := h.FetchBlob(ctx, b.repo, b.d); size != int64(b.size) || !errors.Is(err, b.err) {
			t.Errorf("FetchBlob %s %s: %d, %v; want %d, %v", b.repo, b.d, size, err, b.size, b.err)
		}
	}
	refs, err := h.Referrers(ctx, "example.com/team/up", f.manifestDigest)
	if err != nil || len(refs) != 1 || refs[0].Digest != f.referrer.Digest {
		t.Errorf("referrers: %v, %v", refs, err)
	}
	if pulls := f.pulls.taken(); len(pulls) != 0 {
		t.Errorf("in-process reads went to Pulled: %q", pulls)
	}
}
