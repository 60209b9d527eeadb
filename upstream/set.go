package upstream

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ocitar/ocitar/cache"
	"github.com/ocitar/ocitar/internal/registryname"
	digest "github.com/opencontainers/go-digest"
)

// Options are what every upstream of a Set shares.
type Options struct {
	// Cache is where blobs and manifests fetched are kept; required.
	Cache *cache.Cache
	// Credentials gives the credentials of an upstream's host (its URL's
	// host[:port]), asked for when the upstream or its token realm wants
	// some, once per token fetch. Nil, or "" and "": anonymous.
	Credentials func(registryHost string) (username, secret string, err error)
	// Transport makes the requests; nil: a clone of http.DefaultTransport
	// with timeouts on the dial, the TLS handshake and the response headers,
	// and TLS as its TLS configuration.
	Transport http.RoundTripper
	TLS       *tls.Config
	// UserAgent, when not "", is sent with every request.
	UserAgent string
	// IdleTimeout fails a blob's body that sends nothing for that long, so
	// that a stalled upstream fails its fetch instead of holding it and its
	// clients; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// DefaultIdleTimeout is Options.IdleTimeout when it is 0.
const DefaultIdleTimeout = time.Minute

// Set is the configured upstreams, by the registry each serves.
type Set struct {
	named   map[string]*client
	unnamed *client
	cache   *cache.Cache
	idle    time.Duration // Options.IdleTimeout

	mu        sync.Mutex
	manifests map[manifestKey]string
}

// manifestKey is a manifest fetched from a repository of an upstream; the
// Set keeps its media type, the cache its bytes.
type manifestKey struct {
	client *client
	path   string
	digest digest.Digest
}

// NewSet makes the Set of specs, at most one of each registry name and one
// without a name. It contacts nothing.
func NewSet(specs []Spec, opts Options) (*Set, error) {
	if opts.Cache == nil {
		return nil, errors.New("upstream: no cache to keep what is fetched")
	}
	hc := newHTTPClient(opts.Transport, opts.TLS)
	auth := newAuthorizer(hc, opts)
	s := &Set{named: map[string]*client{}, cache: opts.Cache, manifests: map[manifestKey]string{}, idle: cmp.Or(opts.IdleTimeout, DefaultIdleTimeout)}
	for _, spec := range specs {
		if spec.URL == nil {
			return nil, fmt.Errorf("upstream %q: no URL", spec.Registry)
		}
		c := &client{base: spec.URL, http: hc, auth: auth, userAgent: opts.UserAgent}
		if err := s.add(spec.Registry, c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Set) add(registry string, c *client) error {
	switch _, taken := s.named[registry]; {
	case registry == "" && s.unnamed != nil:
		return fmt.Errorf("upstream %s: a second upstream without a registry name", redact(c.base))
	case registry == "":
		s.unnamed = c
	case taken:
		return fmt.Errorf("upstream %s: a second upstream for registry %s", redact(c.base), registry)
	default:
		s.named[registry] = c
	}
	return nil
}

// Route is the upstream repository that serves name, asked for with
// containerd's ?ns= (or ns ""), and false when none does; nothing is
// contacted.
//   - ns != "": the upstream named ns (normalized: lower case, Docker Hub's
//     hosts as docker.io), with name as its path.
//   - ns == "": when name's first component is a named upstream's registry,
//     that upstream with the rest of name as its path; otherwise the unnamed
//     upstream with name as its path.
func (s *Set) Route(ns, name string) (*Repository, bool) {
	if ns != "" {
		registry := registryname.Normalize(ns)
		c, ok := s.named[registry]
		if !ok {
			return nil, false
		}
		return &Repository{set: s, client: c, registry: registry, path: name}, true
	}
	if first, rest, ok := strings.Cut(name, "/"); ok {
		registry := registryname.Normalize(first)
		if c, ok := s.named[registry]; ok {
			return &Repository{set: s, client: c, registry: registry, path: rest}, true
		}
	}
	if s.unnamed == nil {
		return nil, false
	}
	return &Repository{set: s, client: s.unnamed, path: name}, true
}

// remember keeps the media type of a manifest fetched and kept in the cache.
func (s *Set) remember(key manifestKey, mediaType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manifests[key] = mediaType
}

// recall is the media type of a manifest fetched, and whether it was.
func (s *Set) recall(key manifestKey) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mediaType, ok := s.manifests[key]
	return mediaType, ok
}
