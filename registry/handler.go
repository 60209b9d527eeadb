package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/ocitar/ocitar/archive"
)

// maxURILength bounds the request target; the longest the API needs is a
// repository name of 255 characters with a digest and a query.
const maxURILength = 2048

// Archive is an opened archive to serve, and the repository its images named
// by a tag alone (ref.name "latest") are served in; "" serves no such image.
type Archive struct {
	Reader *archive.Reader
	Repo   string
}

// Options tune a Handler.
type Options struct {
	// Log receives one line per problem: a conflicting name at start, a name
	// asked for that several registries share, a blob that fails its digest.
	// nil discards them.
	Log func(string)
	// Users, when set, are the only clients served: others get 401 and a
	// Basic challenge for Realm (default "ocitar").
	Users *Htpasswd
	Realm string
	// ReadFailed, when set, is called with an archive's reader and the
	// error each time reading a manifest or a blob from it fails (a client
	// that goes away is no failure): ocitar serve reopens a remote archive
	// whose object changed. It must not block.
	ReadFailed func(r *archive.Reader, err error)
	// Upstream, when set, serves what the archives lack: pull-through.
	Upstream Upstream
	// Pulled, when set, is called with each manifest answered and each blob
	// sent whole, from the archives or the upstream. It must not block.
	Pulled func(Pull)
}

// Handler serves archives read-only over the OCI Distribution API v2.
// It is safe for concurrent use.
type Handler struct {
	opts      Options
	replacing sync.Mutex // one Replace at a time

	mu      sync.RWMutex
	current *served
}

// served is one set of archives and the requests using them.
type served struct {
	catalog *catalog
	sources []*source
	users   sync.WaitGroup
}

// New returns a Handler serving archives. It takes the readers over: Close,
// or Replace once they are no longer served, closes them.
func New(archives []Archive, opts Options) (*Handler, error) {
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	if opts.Realm == "" {
		opts.Realm = "ocitar"
	}
	h := &Handler{opts: opts, current: &served{catalog: newCatalog(nil, opts.Log)}}
	if err := h.Replace(archives); err != nil {
		return nil, err
	}
	return h, nil
}

// Replace serves archives instead of the archives served so far. Requests
// under way finish with the archives they started with, which are then
// closed unless archives holds their reader again. On an error (an archive
// whose manifests cannot be read), it closes the new readers and keeps
// serving the old ones.
func (h *Handler) Replace(archives []Archive) error {
	h.replacing.Lock()
	defer h.replacing.Unlock()
	h.mu.RLock()
	old := h.current
	h.mu.RUnlock()
	next, err := h.newServed(archives, old)
	if err != nil {
		closeNew(archives, old)
		return err
	}
	h.mu.Lock()
	h.current = next
	h.mu.Unlock()
	go retire(old, next)
	return nil
}

// newServed prepares archives, keeping the state of those old serves already.
func (h *Handler) newServed(archives []Archive, old *served) (*served, error) {
	next := &served{}
	for _, a := range archives {
		src := old.find(a)
		if src == nil {
			var err error
			if src, err = newSource(a, h.opts); err != nil {
				return nil, err
			}
		}
		next.sources = append(next.sources, src)
	}
	next.catalog = newCatalog(next.sources, h.opts.Log)
	return next, nil
}

// find returns the source of a that s serves, or nil.
func (s *served) find(a Archive) *source {
	for _, src := range s.sources {
		if src.Archive == a {
			return src
		}
	}
	return nil
}

// holds reports whether s serves the reader r.
func (s *served) holds(r *archive.Reader) bool {
	for _, src := range s.sources {
		if src.Reader == r {
			return true
		}
	}
	return false
}

// closeNew closes the readers of archives that old does not serve.
func closeNew(archives []Archive, old *served) {
	for _, a := range archives {
		if !old.holds(a.Reader) {
			a.Reader.Close()
		}
	}
}

// retire closes the readers of old that next does not serve, once the
// requests using them are done.
func retire(old, next *served) {
	old.users.Wait()
	for _, src := range old.sources {
		if next == nil || !next.holds(src.Reader) {
			src.close()
		}
	}
}

// Close stops serving, waits for the requests under way and closes every archive.
func (h *Handler) Close() error {
	h.replacing.Lock()
	defer h.replacing.Unlock()
	h.mu.Lock()
	old := h.current
	h.current = &served{catalog: newCatalog(nil, h.opts.Log)}
	h.mu.Unlock()
	retire(old, nil)
	return nil
}

// acquire returns the archives served now; release with s.users.Done.
func (h *Handler) acquire() *served {
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.current.users.Add(1)
	return h.current
}

// ServeHTTP answers the read endpoints of the API and UNSUPPORTED to the others.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	switch {
	case len(r.RequestURI) > maxURILength:
		writeError(w, errURITooLong, "request URI too long")
		return
	case h.opts.Users != nil && !h.opts.Users.allows(r):
		w.Header().Set("WWW-Authenticate", `Basic realm="`+h.opts.Realm+`"`)
		writeError(w, errUnauthorized, "authentication required")
		return
	case r.URL.Path != "/v2" && !strings.HasPrefix(r.URL.Path, "/v2/"):
		writeError(w, errNotFound, "not an endpoint of the distribution API")
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, errUnsupported, "this registry is read-only")
		return
	}
	s := h.acquire()
	defer s.users.Done()
	req := &request{w: w, r: r, lookup: lookup{s, &h.opts}, log: h.opts.Log}
	req.route(strings.TrimPrefix(strings.TrimPrefix(r.URL.EscapedPath(), "/v2"), "/"))
}

// Verify hashes every config and layer of the archives served that is not
// hashed yet, and returns how many fail their digest; Options.Log names each.
func (h *Handler) Verify(ctx context.Context) int {
	s := h.acquire()
	defer s.users.Done()
	bad := 0
	for _, src := range s.sources {
		bad += src.verifyAll(ctx)
	}
	return bad
}
