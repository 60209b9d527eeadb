package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// Timeouts of the default transport. A blob's body has none: it takes what
// the blob takes.
const (
	dialTimeout           = 30 * time.Second
	tlsHandshakeTimeout   = 30 * time.Second
	responseHeaderTimeout = 60 * time.Second
	maxRedirects          = 10
)

// client makes the requests of one upstream.
type client struct {
	base      *url.URL
	http      *http.Client
	auth      *authorizer
	userAgent string
}

// newHTTPClient is the client of every upstream of a Set: transport, or
// the default one with tlsConfig, following redirects without taking
// credentials along.
func newHTTPClient(transport http.RoundTripper, tlsConfig *tls.Config) *http.Client {
	if transport == nil {
		transport = defaultTransport(tlsConfig)
	}
	return &http.Client{Transport: transport, CheckRedirect: checkRedirect}
}

func defaultTransport(tlsConfig *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig
	t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = tlsHandshakeTimeout
	t.ResponseHeaderTimeout = responseHeaderTimeout
	return t
}

// checkRedirect drops the Authorization header when a redirect leaves the
// scheme and host it was meant for: net/http keeps it for another port of
// the same host, or a subdomain.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		req.Header.Del("Authorization")
	}
	return nil
}

// repoPath is the repository path of repo on the upstream: under the URL's
// path prefix.
func (c *client) repoPath(repo string) string {
	return path.Join(c.base.Path, repo)
}

// url is the URL of /v2/REPO/TAIL of repo's path, with query.
func (c *client) url(repo, tail string, query url.Values) *url.URL {
	return &url.URL{Scheme: c.base.Scheme, Host: c.base.Host, Path: "/v2/" + c.repoPath(repo) + "/" + tail, RawQuery: query.Encode()}
}

// get GETs /v2/REPO/TAIL of repo's path with query and accept, authorized
// for pulling from repo. It returns a response of status 2xx; any other is
// an error.
func (c *client) get(ctx context.Context, repo, tail string, query url.Values, accept []string) (*http.Response, error) {
	u := c.url(repo, tail, query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, unavailable("GET "+redact(u), err)
	}
	if len(accept) > 0 {
		req.Header.Set("Accept", strings.Join(accept, ", "))
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	return c.send(req, "repository:"+c.repoPath(repo)+":pull")
}

// send sends req with the authorization known for scope, and once more
// answering a 401's challenge. It returns a response of status 2xx.
func (c *client) send(req *http.Request, scope string) (*http.Response, error) {
	sent := c.auth.authorize(req, scope)
	resp, err := c.roundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		challenges := resp.Header.Values("WWW-Authenticate")
		drain(resp)
		retry := req.Clone(req.Context())
		if err := c.auth.answer(retry, challenges, scope, sent); err != nil {
			return nil, unavailable("GET "+redact(req.URL), err)
		}
		if resp, err = c.roundTrip(retry); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode/100 != 2 {
		return nil, statusError(resp)
	}
	return resp, nil
}

func (c *client) roundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(req, err)
	}
	return resp, nil
}

// drain reads a little of a body left unread, so that its connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
}

// errorBody is a body whose read errors, EOF aside, pass through wrap.
type errorBody struct {
	io.ReadCloser
	wrap func(error) error
}

func (b errorBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.wrap(err)
	}
	return n, err
}

// namedBody is body, whose read errors name it as name.
func namedBody(body io.ReadCloser, name string) errorBody {
	return errorBody{body, func(err error) error { return unavailable(name, err) }}
}
