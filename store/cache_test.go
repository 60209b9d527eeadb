package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const multiArchive = "../testdata/sample-multi.oci.tar"

// sourceLog counts the Sources opened and the manifests and blobs asked of them.
type sourceLog struct {
	mu      sync.Mutex
	fetches int
	asked   map[digest.Digest]int
}

func newSourceLog() *sourceLog { return &sourceLog{asked: map[digest.Digest]int{}} }

// fetch opens the only image of the archive at path; blob corrupt, if any,
// is served with its first byte changed.
func (l *sourceLog) fetch(path string, corrupt digest.Digest) Fetch {
	return l.gated(path, corrupt, nil, nil)
}

// gated is fetch whose OpenBlob says so on entered, then waits for gate.
func (l *sourceLog) gated(path string, corrupt digest.Digest, entered chan<- struct{}, gate <-chan struct{}) Fetch {
	return func(ctx context.Context, name string) (Source, error) {
		l.mu.Lock()
		l.fetches++
		l.mu.Unlock()
		r, err := archive.Open(path, archive.Options{})
		if err != nil {
			return nil, err
		}
		return loggedSource{Source: ReaderSource(r, archive.Selector{}), log: l, corrupt: corrupt, entered: entered, gate: gate}, nil
	}
}

func (l *sourceLog) failing() Fetch {
	return func(context.Context, string) (Source, error) {
		l.mu.Lock()
		l.fetches++
		l.mu.Unlock()
		return nil, errors.New("the source is gone")
	}
}

func (l *sourceLog) ask(d digest.Digest) {
	l.mu.Lock()
	l.asked[d]++
	l.mu.Unlock()
}

// takeAsked returns what was asked since the last call.
func (l *sourceLog) takeAsked() []digest.Digest {
	l.mu.Lock()
	defer l.mu.Unlock()
	asked := slices.Sorted(maps.Keys(l.asked))
	clear(l.asked)
	return asked
}

type loggedSource struct {
	Source
	log     *sourceLog
	corrupt digest.Digest
	entered chan<- struct{}
	gate    <-chan struct{}
}

func (s loggedSource) Manifest(ctx context.Context, d digest.Digest) ([]byte, string, error) {
	s.log.ask(d)
	return s.Source.Manifest(ctx, d)
}

func (s loggedSource) OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	s.log.ask(d)
	if s.gate != nil {
		s.entered <- struct{}{}
		<-s.gate
	}
	if d != s.corrupt {
		return s.Source.OpenBlob(ctx, d)
	}
	rc, size, err := s.Source.OpenBlob(ctx, d)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, 0, err
	}
	data[0] ^= 0xff
	return io.NopCloser(bytes.NewReader(data)), size, nil
}

func openCache(t *testing.T, dir string) *Cache {
	t.Helper()
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// resolveIn resolves platform of the only image of the archive at path.
func resolveIn(t *testing.T, path string, platform *ocispec.Platform) archive.Resolved {
	t.Helper()
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Resolve(archive.Selector{}, platform)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// blobsOf are the manifest, config and layers of res, sorted.
func blobsOf(res archive.Resolved) []digest.Digest {
	out := []digest.Digest{res.Descriptor.Digest, res.Manifest.Config.Digest}
	for _, l := range res.Manifest.Layers {
		out = append(out, l.Digest)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestCacheResolve(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c := openCache(t, dir)
	log := newSourceLog()
	amd64 := &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	amd, arm := resolveIn(t, multiArchive, amd64), resolveIn(t, multiArchive, arm64)
	index := amd.Image.Descriptor.Digest
	newOfArm := slices.DeleteFunc(blobsOf(arm), func(d digest.Digest) bool { return slices.Contains(blobsOf(amd), d) })
	const name = "example.com/ocitar/multi:1"
	tests := []struct {
		name     string
		cache    func() *Cache
		platform *ocispec.Platform
		fetch    Fetch
		fetches  int             // after the call
		asked    []digest.Digest // of the source by the call
		want     archive.Resolved
		err      string // in the error, which wraps ErrNoMatch
	}{
		{"first, amd64 only", nil, amd64, log.fetch(multiArchive, ""), 1, append(blobsOf(amd), index), amd, ""},
		{"again, cached", nil, amd64, log.failing(), 1, nil, amd, ""},
		{"another cache of the directory, cached", func() *Cache { return openCache(t, dir) }, amd64, log.failing(), 1, nil, amd, ""},
		{"arm64, what the cache lacks", nil, arm64, log.fetch(multiArchive, ""), 2, newOfArm, arm, ""},
		{"arm64 again, cached", nil, arm64, log.failing(), 2, nil, arm, ""},
		{"a platform the image lacks", nil, &ocispec.Platform{OS: "linux", Architecture: "s390x"}, log.fetch(multiArchive, ""), 3, nil, archive.Resolved{},
			"platform linux/s390x; the image has linux/amd64, linux/arm64/v8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := c
			if tt.cache != nil {
				cache = tt.cache()
			}
			got, err := cache.Resolve(context.Background(), name, tt.platform, tt.fetch)
			if log.fetches != tt.fetches {
				t.Errorf("%d fetches, want %d", log.fetches, tt.fetches)
			}
			slices.Sort(tt.asked)
			if asked := log.takeAsked(); !slices.Equal(asked, tt.asked) {
				t.Errorf("asked the source for %v, want %v", asked, tt.asked)
			}
			if tt.err != "" {
				if !errors.Is(err, archive.ErrNoMatch) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want %v: ...%s", err, archive.ErrNoMatch, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Descriptor.Digest != tt.want.Descriptor.Digest || got.Image.Descriptor.Digest != index {
				t.Errorf("resolved %s in %s, want %s in %s", got.Descriptor.Digest, got.Image.Descriptor.Digest, tt.want.Descriptor.Digest, index)
			}
		})
	}
	for _, d := range blobsOf(arm) {
		if _, ok, err := c.StatBlob(d); !ok || err != nil {
			t.Errorf("blob %s of linux/arm64 not in the cache: %v", d, err)
		}
	}
}

func TestCacheResolveStoresAsLoad(t *testing.T) {
	for _, path := range []string{
		"../testdata/sample-multi.oci.tar",
		"../testdata/sample.docker.tar",
		"../testdata/peers/a-docker-2layer.docker20.tar",
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			loaded, err := Load(openStore(t), streamOf(t, path), archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := openCache(t, filepath.Join(t.TempDir(), "cache"))
			platform := &ocispec.Platform{OS: "linux", Architecture: "amd64"}
			if _, err = c.Resolve(context.Background(), "example.com/cached:1", platform, newSourceLog().fetch(path, "")); err != nil {
				t.Fatal(err)
			}
			images, err := c.Images()
			if err != nil || len(images) != 1 {
				t.Fatalf("the cache lists %v, %v", images, err)
			}
			want := loaded.Images[0].Descriptor
			if got := images[0]; got.Digest != want.Digest || got.MediaType != want.MediaType {
				t.Errorf("the cache lists %s %s, Load %s %s", got.MediaType, got.Digest, want.MediaType, want.Digest)
			}
		})
	}
}

func TestCacheResolveRefuses(t *testing.T) {
	amd64 := &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	layer := resolveIn(t, multiArchive, amd64).Manifest.Layers[0].Digest
	tests := []struct {
		name    string
		ref     string
		fetch   func(*sourceLog) Fetch
		fetches int
		err     error
		written bool // blobs Prune reclaims
	}{
		{"not a name", "Not A Name", func(l *sourceLog) Fetch { return l.fetch(multiArchive, "") }, 0, archive.ErrBadSelector, false},
		{"a source that cannot be opened", "example.com/gone:1", (*sourceLog).failing, 1, nil, false},
		{"a corrupt layer", "example.com/corrupt:1", func(l *sourceLog) Fetch { return l.fetch(multiArchive, layer) }, 1, archive.ErrDigestMismatch, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCache(t, filepath.Join(t.TempDir(), "cache"))
			log := newSourceLog()
			_, err := c.Resolve(context.Background(), tt.ref, amd64, tt.fetch(log))
			if err == nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("got %v, want an error wrapping %v", err, tt.err)
			}
			if log.fetches != tt.fetches {
				t.Errorf("%d fetches, want %d", log.fetches, tt.fetches)
			}
			if images, err := c.Images(); len(images) != 0 || err != nil {
				t.Errorf("the cache lists %v (%v), want nothing", images, err)
			}
			pruned, err := c.Prune()
			if err != nil || (pruned.Blobs > 0) != tt.written {
				t.Errorf("Prune removed %d blobs (%v); want some: %v", pruned.Blobs, err, tt.written)
			}
			if _, err := c.Resolve(context.Background(), "example.com/good:1", amd64, log.fetch(multiArchive, "")); err != nil {
				t.Errorf("then resolving from a good source: %v", err)
			}
		})
	}
}

// TestCacheResolveConcurrently has a fetch wait inside its source: a caller
// asking for the same name waits for it, and one asking for another name is
// served meanwhile.
func TestCacheResolveConcurrently(t *testing.T) {
	c := openCache(t, filepath.Join(t.TempDir(), "cache"))
	log := newSourceLog()
	amd64 := &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	entered, gate := make(chan struct{}, 16), make(chan struct{}) // entered holds a call for every blob
	first := make(chan error, 1)
	go func() {
		_, err := c.Resolve(context.Background(), "example.com/a:1", amd64, log.gated(multiArchive, "", entered, gate))
		first <- err
	}()
	<-entered

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Resolve(canceled, "example.com/a:1", amd64, log.fetch(multiArchive, "")); !errors.Is(err, context.Canceled) {
		t.Errorf("the same name while it is fetched: %v, want to wait for the fetch until canceled", err)
	}
	other := make(chan error, 1)
	go func() {
		_, err := c.Resolve(context.Background(), "example.com/b:1", amd64, log.fetch("../testdata/sample.docker.tar", ""))
		other <- err
	}()
	select {
	case err := <-other:
		if err != nil {
			t.Errorf("another name while the first is fetched: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("another name waited a minute for the fetch of the first")
	}
	var waiting sync.WaitGroup
	results := make(chan error, 4)
	for range cap(results) {
		waiting.Go(func() {
			_, err := c.Resolve(context.Background(), "example.com/a:1", amd64, log.fetch(multiArchive, ""))
			results <- err
		})
	}
	close(gate)
	if err := <-first; err != nil {
		t.Errorf("the first fetch: %v", err)
	}
	waiting.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("resolving the same name meanwhile: %v", err)
		}
	}
	if log.fetches != 2 {
		t.Errorf("%d fetches, want 2: one for each name", log.fetches)
	}
}
