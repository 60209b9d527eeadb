package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/store"
	"github.com/ocitar/ocitar/transport"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// countingProxy passes requests on to a registry and records their paths.
type countingProxy struct {
	host  string // 127.0.0.1:PORT
	mu    sync.Mutex
	paths []string
}

// countingProxyStart serves, on a free port of 127.0.0.1, a reverse proxy to
// the registry at host; it is closed when t ends.
func countingProxyStart(t *testing.T, host string) *countingProxy {
	t.Helper()
	p := &countingProxy{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.paths = append(p.paths, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// take returns the requests made since the last call.
func (p *countingProxy) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	paths := p.paths
	p.paths = nil
	return paths
}

// registryFetch fetches names from docker:// references over plain HTTP.
func registryFetch() store.Fetch {
	sys := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue}
	return transport.CacheFetch(sys, func(name string) (types.ImageReference, error) {
		return alltransports.ParseImageName("docker://" + name)
	})
}

// TestCacheFromRegistry resolves names through a store.Cache from
// docker-registry, behind a proxy that records every request: the first
// resolve of a multi-platform image fetches the host's platform only, later
// ones, from the same Cache or a new one of the directory, make no request,
// and two names resolved at once both arrive.
func TestCacheFromRegistry(t *testing.T) {
	reg := registryStart(t)
	for _, push := range []struct{ file, tag string }{{"sample-multi.oci.tar", "t/multi:1"}, {"sample.docker.tar", "t/sample:1"}} {
		run(t, ocitar, "copy", "--insecure-policy", "-q", "--all", "--preserve-digests", "--dest-tls-verify=false",
			"oci-tar:"+testdata(push.file), reg.ref(push.tag))
	}
	proxy := countingProxyStart(t, reg.host)
	ctx := context.Background()
	src, err := archive.Open(testdata("sample-multi.oci.tar"), archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	host, err := src.Resolve(archive.Selector{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cache")
	cache, err := store.OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	multi := proxy.host + "/t/multi:1"

	res, err := cache.Resolve(ctx, multi, nil, registryFetch())
	if err != nil {
		t.Fatal(err)
	}
	if res.Descriptor.Digest != host.Descriptor.Digest || res.Image.Descriptor.Digest != host.Image.Descriptor.Digest {
		t.Errorf("resolved %s in %s, want the host's %s in %s", res.Descriptor.Digest, res.Image.Descriptor.Digest, host.Descriptor.Digest, host.Image.Descriptor.Digest)
	}
	index := host.Image.Descriptor.Digest // fetched by its tag
	wanted := map[digest.Digest]bool{index: true, host.Descriptor.Digest: true, host.Manifest.Config.Digest: true}
	for _, l := range host.Manifest.Layers {
		wanted[l.Digest] = true
	}
	fetched := proxy.take()
	t.Logf("the first resolve made %d requests: %v", len(fetched), fetched)
	for _, b := range host.Image.Blobs {
		requested := slices.ContainsFunc(fetched, func(req string) bool { return strings.HasSuffix(req, "/"+b.Digest.String()) })
		_, cached, err := cache.StatBlob(b.Digest)
		if err != nil || cached != wanted[b.Digest] || b.Digest != index && requested != wanted[b.Digest] {
			t.Errorf("%s %s: requested %v, cached %v (%v); want both %v, only the host's platform; requests: %v",
				b.MediaType, b.Digest, requested, cached, err, wanted[b.Digest], fetched)
		}
	}

	again, err := store.OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []*store.Cache{cache, again} {
		res, err := c.Resolve(ctx, multi, nil, registryFetch())
		if err != nil || res.Descriptor.Digest != host.Descriptor.Digest {
			t.Errorf("resolving again (cache %d): %s, %v; want %s", i, res.Descriptor.Digest, err, host.Descriptor.Digest)
		}
		if requests := proxy.take(); len(requests) != 0 {
			t.Errorf("resolving again (cache %d) made requests: %v", i, requests)
		}
	}

	concurrent, err := store.OpenCache(filepath.Join(t.TempDir(), "concurrent"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{ // to the config digest
		multi:                      host.Manifest.Config.Digest.String(),
		proxy.host + "/t/sample:1": registryConfigDigest(t, nil, "oci-tar:"+testdata("sample.docker.tar")),
	}
	var wg sync.WaitGroup
	for name, want := range names {
		wg.Go(func() {
			res, err := concurrent.Resolve(ctx, name, nil, registryFetch())
			if err != nil {
				t.Errorf("resolving %s concurrently: %v", name, err)
			} else if res.Manifest.Config.Digest.String() != want {
				t.Errorf("resolving %s concurrently: config %s, want %s", name, res.Manifest.Config.Digest, want)
			}
		})
	}
	wg.Wait()
}
