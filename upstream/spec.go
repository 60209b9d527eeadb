package upstream

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/ocitar/ocitar/internal/registryname"
)

// Spec is one configured upstream: the registry whose names it serves (""
// for the upstream given without a name) and where it is.
type Spec struct {
	Registry string
	URL      *url.URL
}

var (
	// registryName is a registry's host, with an optional port.
	registryName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)
	// pathComponent is a component of a repository name.
	pathComponent = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
)

// ParseSpec parses "[REGISTRY=]URL": an http:// or https:// URL with an
// optional path prefix, put between /v2/ and the repository path. The URL
// holds no credentials (they come from Options.Credentials), no query and no
// fragment. REGISTRY is normalized as Set.Route normalizes ?ns=.
func ParseSpec(s string) (Spec, error) {
	var spec Spec
	raw := s
	if name, rest, ok := strings.Cut(s, "="); ok && !strings.Contains(name, "/") {
		spec.Registry, raw = registryname.Normalize(name), rest
		if !registryName.MatchString(spec.Registry) {
			return Spec{}, fmt.Errorf("upstream %q: invalid registry name", name)
		}
	}
	u, err := parseURL(raw)
	if err != nil {
		return Spec{}, err
	}
	spec.URL = u
	return spec, nil
}

// parseURL parses an upstream's URL, refusing what ParseSpec refuses. Its
// errors never echo userinfo or a query.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("upstream URL: not a URL")
	}
	name := redact(u)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("upstream %s: the scheme must be http or https", name)
	case u.Host == "":
		return nil, fmt.Errorf("upstream %s: no host", name)
	case u.User != nil:
		return nil, fmt.Errorf("upstream %s: credentials in the URL are refused; give them apart", name)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("upstream %s: a query string is refused", name)
	case u.Fragment != "":
		return nil, fmt.Errorf("upstream %s: a fragment is refused", name)
	}
	u.Path = strings.Trim(u.Path, "/")
	u.RawPath = ""
	for _, c := range strings.Split(u.Path, "/") {
		if u.Path != "" && !pathComponent.MatchString(c) {
			return nil, fmt.Errorf("upstream %s: invalid path prefix component %q", name, c)
		}
	}
	return u, nil
}
