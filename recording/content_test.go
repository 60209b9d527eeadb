package recording

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeContent is a registry in memory: blobs (manifests among them) by
// digest, tags of one repository, and referrers.
type fakeContent struct {
	mu        sync.Mutex
	blobs     map[digest.Digest][]byte
	tags      map[string]digest.Digest // by tag
	referrers map[digest.Digest][]ocispec.Descriptor
	opened    map[digest.Digest]int // OpenBlob calls
	openErr   error                 // when set, OpenBlob fails with it
	refErrs   map[string]error      // Manifest of these refs fails so
	corrupt   bool                  // OpenBlob serves other bytes than asked for
	gate      chan struct{}         // when set, OpenBlob waits for it to be closed
	inFlight  int                   // OpenBlob calls waiting at the gate
	maxFlight int                   // the most that waited at once
}

func newFakeContent(l *testimage.Layout) *fakeContent {
	c := &fakeContent{
		blobs: map[digest.Digest][]byte{}, tags: map[string]digest.Digest{},
		referrers: map[digest.Digest][]ocispec.Descriptor{}, opened: map[digest.Digest]int{},
	}
	for _, f := range l.Files {
		if enc, ok := strings.CutPrefix(f.Name, "blobs/sha256/"); ok {
			c.blobs[digest.NewDigestFromEncoded(digest.SHA256, enc)] = []byte(f.Body)
		}
	}
	return c
}

func (c *fakeContent) Manifest(ctx context.Context, name, ref string) ([]byte, string, digest.Digest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refErrs[ref]; err != nil {
		return nil, "", "", fmt.Errorf("manifest %s of %s: %w", ref, name, err)
	}
	d, err := digest.Parse(ref)
	if err != nil {
		d = c.tags[ref]
	}
	data, ok := c.blobs[d]
	if !ok {
		return nil, "", "", fmt.Errorf("manifest %s of %s: %w", ref, name, fs.ErrNotExist)
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, "", "", fmt.Errorf("manifest %s of %s: %w", ref, name, err)
	}
	return data, probe.MediaType, d, nil
}

func (c *fakeContent) OpenBlob(ctx context.Context, name string, d digest.Digest) (io.ReadCloser, int64, error) {
	c.wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opened[d]++
	if c.openErr != nil {
		return nil, 0, c.openErr
	}
	data, ok := c.blobs[d]
	if !ok {
		return nil, 0, fmt.Errorf("blob %s of %s: %w", d, name, fs.ErrNotExist)
	}
	if c.corrupt {
		data = bytes.ToUpper(data)
	}
	return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
}

func (c *fakeContent) FetchBlob(ctx context.Context, name string, d digest.Digest) (int64, error) {
	rc, size, err := c.OpenBlob(ctx, name, d)
	if err != nil {
		return 0, err
	}
	return size, rc.Close()
}

// wait waits at the gate, if there is one.
func (c *fakeContent) wait() {
	c.mu.Lock()
	gate := c.gate
	c.inFlight++
	c.maxFlight = max(c.maxFlight, c.inFlight)
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
}

func (c *fakeContent) Referrers(ctx context.Context, name string, d digest.Digest) ([]ocispec.Descriptor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.referrers[d], nil
}

func (c *fakeContent) set(f func(c *fakeContent)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func (c *fakeContent) inFlightNow() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight
}

func (c *fakeContent) openCount(d digest.Digest) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened[d]
}

// pull is what a client asks the mirror for, as the registry tells a Recording.
type pull struct {
	ref   string // a tag or a digest of repo
	blobs bool   // the client fetches the config and layers (false: it had them)
}

const repo = "example.com/team/app"

// serve tells r what a client pulling p was served. It may run on a goroutine of its own.
func (c *fakeContent) serve(t testing.TB, r *Recording, p pull) {
	t.Helper()
	data, mediaType, d, err := c.Manifest(context.Background(), repo, p.ref)
	if err != nil {
		t.Error(err)
		return
	}
	r.Manifest(repo, p.ref, ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}, data)
	if !p.blobs || !archive.IsManifest(mediaType) {
		return
	}
	members, err := manifestBlobs(data)
	if err != nil {
		t.Error(err)
		return
	}
	for _, b := range members {
		r.Blob(repo, b)
	}
}

// world is what the fake registry holds for the tests.
type world struct {
	content          *fakeContent
	app              ocispec.Descriptor // tags 1 and latest
	appLayer         digest.Digest
	index, amd64     ocispec.Descriptor // tag multi: amd64 and arm64
	arm64            ocispec.Descriptor
	referrer, cosign ocispec.Descriptor // a referrer of app and its cosign tag sha256-HEX.sig
	broken           ocispec.Descriptor // tag broken: its layer is nowhere
	wide             ocispec.Descriptor // tag wide: a manifest of wideLayers layers
	brokenLayer      digest.Digest
	cosignTag        string
}

func newWorld(t *testing.T) world {
	var l testimage.Layout
	w := world{app: l.Image("amd64", "app layer"), amd64: l.Image("amd64", "multi amd64"), arm64: l.Image("arm64", "multi arm64")}
	amd64, arm64 := w.amd64, w.arm64
	amd64.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm64.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{amd64, arm64}}
	idx.SchemaVersion = 2
	w.index = l.JSONBlob(ocispec.MediaTypeImageIndex, idx)
	w.referrer = artifact(&l, "signature", &w.app)
	w.cosign = artifact(&l, "cosign signature", nil)
	w.broken = l.Image("amd64", "broken layer")
	w.wide = wide(&l)
	w.content = newFakeContent(&l)
	w.appLayer = layerOf(t, w.content, w.app)
	w.brokenLayer = layerOf(t, w.content, w.broken)
	delete(w.content.blobs, w.brokenLayer)
	w.cosignTag = "sha256-" + w.app.Digest.Encoded() + ".sig"
	w.content.tags = map[string]digest.Digest{"1": w.app.Digest, "latest": w.app.Digest, "multi": w.index.Digest, "broken": w.broken.Digest, "wide": w.wide.Digest, w.cosignTag: w.cosign.Digest}
	w.content.referrers[w.app.Digest] = []ocispec.Descriptor{w.referrer}
	return w
}

// artifact adds a manifest of an artifact with one layer, payload, and the
// empty config; subject, when set, is what it refers to.
func artifact(l *testimage.Layout, payload string, subject *ocispec.Descriptor) ocispec.Descriptor {
	config := l.Blob(ocispec.MediaTypeEmptyJSON, []byte("{}"))
	layer := l.Blob("application/vnd.example.signature", []byte(payload))
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example.signature", Config: config, Layers: []ocispec.Descriptor{layer}, Subject: subject}
	m.SchemaVersion = 2
	return l.JSONBlob(ocispec.MediaTypeImageManifest, m)
}

// wideLayers is how many layers the wide image has, more than are fetched at once.
const wideLayers = 3 * backgroundLimit

func wide(l *testimage.Layout) ocispec.Descriptor {
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: l.Blob(ocispec.MediaTypeImageConfig, []byte(`{"os":"linux","architecture":"amd64"}`))}
	m.SchemaVersion = 2
	for i := range wideLayers {
		m.Layers = append(m.Layers, l.Blob(ocispec.MediaTypeImageLayer, fmt.Appendf(nil, "wide layer %d", i)))
	}
	return l.JSONBlob(ocispec.MediaTypeImageManifest, m)
}

func layerOf(t *testing.T, c *fakeContent, m ocispec.Descriptor) digest.Digest {
	t.Helper()
	var manifest ocispec.Manifest
	if err := json.Unmarshal(c.blobs[m.Digest], &manifest); err != nil {
		t.Fatal(err)
	}
	return manifest.Layers[0].Digest
}
