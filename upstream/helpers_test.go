package upstream

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/ocitar/ocitar/cache"
	digest "github.com/opencontainers/go-digest"
)

// response is what a fakeServer answers on one path.
type response struct {
	status int
	header http.Header
	body   []byte
}

// seenRequest is what a fakeServer saw of a request.
type seenRequest struct {
	path, query, accept, authorization string
}

// fakeServer is a registry, a token realm or a storage host on 127.0.0.1: it
// answers each path with its response (404 for others) once gate lets the
// request through, and records every request.
type fakeServer struct {
	*httptest.Server
	routes map[string]response
	// gate, when set, answers a request itself (a 401) by returning false.
	gate func(w http.ResponseWriter, r *http.Request) bool

	mu   sync.Mutex
	seen []seenRequest
}

func newFakeServer(t *testing.T, routes map[string]response) *fakeServer {
	t.Helper()
	f := &fakeServer{routes: routes}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, seenRequest{r.URL.Path, r.URL.RawQuery, r.Header.Get("Accept"), r.Header.Get("Authorization")})
	f.mu.Unlock()
	if f.gate != nil && !f.gate(w, r) {
		return
	}
	resp, ok := f.routes[r.URL.Path]
	if !ok {
		resp = response{status: http.StatusNotFound, body: []byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}`)}
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.status)
	w.Write(resp.body)
}

// requests is what the server saw on path ("" for every path).
func (f *fakeServer) requests(path string) []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var seen []seenRequest
	for _, s := range f.seen {
		if path == "" || s.path == path {
			seen = append(seen, s)
		}
	}
	return seen
}

// ok is a 200 with body and the header pairs kv.
func ok(body []byte, kv ...string) response {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return response{status: http.StatusOK, header: h, body: body}
}

// newTestSet is the Set of specs over a cache in a temporary directory.
func newTestSet(t *testing.T, opts Options, specs ...string) *Set {
	t.Helper()
	if opts.Cache == nil {
		c, err := cache.Open(t.TempDir(), -1)
		if err != nil {
			t.Fatal(err)
		}
		opts.Cache = c
	}
	var parsed []Spec
	for _, s := range specs {
		spec, err := ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, spec)
	}
	set, err := NewSet(parsed, opts)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// route is the repository of name in set, which must have one.
func route(t *testing.T, set *Set, ns, name string) *Repository {
	t.Helper()
	repo, ok := set.Route(ns, name)
	if !ok {
		t.Fatalf("Route(%q, %q): no upstream", ns, name)
	}
	return repo
}

// closedURL is the URL of a port on 127.0.0.1 that nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return (&url.URL{Scheme: "http", Host: addr}).String()
}

var (
	testManifest = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	testManifestDigest = digest.FromBytes(testManifest)
)
