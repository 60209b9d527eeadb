package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ocitar/ocitar/cache"
	"github.com/ocitar/ocitar/registry"
	"github.com/ocitar/ocitar/upstream"
	"github.com/spf13/pflag"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/pkg/tlsclientconfig"
	"go.podman.io/image/v5/types"
)

// upstreamOptions are the flags of pull-through.
type upstreamOptions struct {
	specs    []string
	creds    []string
	authfile string
}

func (u *upstreamOptions) addFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&u.specs, "upstream", nil, "pull what the archives lack from the registry at `[REGISTRY=]URL` (http:// or https://, a path prefix allowed): with REGISTRY, for requests with ?ns=REGISTRY and names REGISTRY/PATH; without, for the other names; repeatable")
	f.StringArrayVar(&u.creds, "upstream-creds", nil, "log in to the upstreams, or to the one of REGISTRY, as `[REGISTRY=]USER:PASSWORD`; repeatable (default: --authfile, then containers' auth.json and docker's config.json)")
	f.StringVar(&u.authfile, "authfile", "", "read upstream credentials from `FILE` (auth.json format) instead of the default locations")
}

// credential is a --upstream-creds entry.
type credential struct {
	registry       string // "" for every upstream
	user, password string
}

// registryPattern is a registry name or HOST:PORT, which no USER:PASSWORD is.
var registryPattern = regexp.MustCompile(`^[a-zA-Z0-9.-]+(:[0-9]+)?$`)

// parseCredentials parses the --upstream-creds entries. Their errors never
// repeat the entry, which holds a password.
func parseCredentials(entries []string) ([]credential, error) {
	var creds []credential
	for i, e := range entries {
		registry, userPassword, named := strings.Cut(e, "=")
		if !named || !registryPattern.MatchString(registry) {
			registry, userPassword = "", e
		}
		user, password, ok := strings.Cut(userPassword, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("serve: --upstream-creds entry %d is not [REGISTRY=]USER:PASSWORD", i+1)
		}
		creds = append(creds, credential{registry, user, password})
	}
	return creds, nil
}

// openUpstreams reads the --upstream flags. Blobs pulled through go to store.
func (s *server) openUpstreams(store *cache.Cache) (registry.Upstream, error) {
	var specs []upstream.Spec
	for _, arg := range s.o.upstream.specs {
		spec, err := upstream.ParseSpec(arg)
		if err != nil {
			return nil, fmt.Errorf("serve: --upstream %s: %w", arg, err)
		}
		specs = append(specs, spec)
	}
	creds, err := parseCredentials(s.o.upstream.creds)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := s.upstreamTLS()
	if err != nil {
		return nil, err
	}
	set, err := upstream.NewSet(specs, upstream.Options{
		Cache:       store,
		Credentials: s.credentials(specs, creds),
		TLS:         tlsConfig,
		UserAgent:   "ocitar",
	})
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return routes{set}, nil
}

// upstreamTLS applies --tls-verify and --cert-dir to the upstreams, as to
// remote archives.
func (s *server) upstreamTLS() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !s.o.remote.tlsVerify}
	if s.o.remote.certDir != "" {
		if err := tlsclientconfig.SetupCertificates(s.o.remote.certDir, c); err != nil {
			return nil, fmt.Errorf("serve: --cert-dir %s: %w", s.o.remote.certDir, err)
		}
	}
	return c, nil
}

// credentials finds the login for an upstream host: a --upstream-creds
// entry of its registry name or host, one for every upstream, else the
// auth files skopeo reads, by registry name then host.
func (s *server) credentials(specs []upstream.Spec, creds []credential) func(host string) (string, string, error) {
	return func(host string) (string, string, error) {
		keys := []string{host}
		for _, spec := range specs {
			if spec.URL.Host == host && spec.Registry != "" {
				keys = append([]string{spec.Registry}, keys...)
			}
		}
		for _, key := range append(keys, "") {
			for _, c := range creds {
				if c.registry == key {
					return c.user, c.password, nil
				}
			}
		}
		sys := &types.SystemContext{AuthFilePath: s.o.upstream.authfile}
		for _, key := range keys {
			auth, err := config.GetCredentials(sys, key)
			if err != nil {
				return "", "", fmt.Errorf("reading the credentials of %s: %w", key, err)
			}
			if auth.Username != "" || auth.Password != "" {
				return auth.Username, auth.Password, nil
			}
			if auth.IdentityToken != "" {
				return "", "", fmt.Errorf("the credentials of %s are an identity token, which ocitar does not use: give --upstream-creds", key)
			}
		}
		return "", "", nil
	}
}

// routes is an upstream.Set as the registry asks it.
type routes struct{ set *upstream.Set }

func (r routes) Route(ns, name string) (registry.UpstreamRepository, bool) {
	repo, ok := r.set.Route(ns, name)
	if !ok {
		return nil, false
	}
	return repo, true
}

// errNoArchive is the error of a serve with nothing to serve.
var errNoArchive = errors.New("serve: give an archive to serve, or --upstream")

// serveArgs checks that serve has something to serve.
func (o *serveOptions) serveArgs(args []string) error {
	if len(args) == 0 && len(o.upstream.specs) == 0 {
		return errNoArchive
	}
	return nil
}

// pullThrough sets the upstreams of --upstream and the hook of --record in
// opts. What is pulled through is kept in the recording's spool, else in
// the cache directory.
func (s *server) pullThrough(opts *registry.Options) error {
	store := s.g.cache
	if s.o.record.path != "" {
		spool, err := s.o.record.openSpool()
		if err != nil {
			return err
		}
		store = spool
		opts.Pulled = func(p registry.Pull) { s.recorder.pulled(p) }
	}
	if len(s.o.upstream.specs) == 0 {
		return nil
	}
	if store == nil {
		return errors.New("serve: --upstream keeps what it pulls through in the cache directory, and there is none: give --cache-dir")
	}
	up, err := s.openUpstreams(store)
	if err != nil {
		return err
	}
	opts.Upstream = up
	return nil
}
