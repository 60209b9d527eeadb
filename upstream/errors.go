package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
)

// ErrUnavailable is the kind of every error of an upstream that is not one of
// content it lacks: unreachable, a status other than 404, a refused
// authorization, content that fails its verification.
var ErrUnavailable = errors.New("upstream unavailable")

// errNotFound is the kind of content the upstream does not have: it is
// fs.ErrNotExist for errors.Is, with a message of its own.
var errNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string        { return "not found" }
func (notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// errorCode is the shape of a distribution error code shown in a message;
// anything else the body holds is left out.
var errorCode = regexp.MustCompile(`^[A-Z][A-Z_]{0,63}$`)

// redact is u as errors name it: scheme, host and path, without userinfo,
// query or fragment.
func redact(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// statusError is the error of a response whose status is not a success; it
// reads the distribution error code from the head of the body.
func statusError(resp *http.Response) error {
	defer resp.Body.Close()
	detail := resp.Status
	if code := distributionCode(resp.Body); code != "" {
		detail += ", " + code
	}
	kind := ErrUnavailable
	if resp.StatusCode == http.StatusNotFound {
		kind = errNotFound
	}
	return fmt.Errorf("%s: %w (HTTP %s)", requestName(resp.Request), kind, detail)
}

// requestName names the request of a response: METHOD URL, and where
// redirects took it.
func requestName(req *http.Request) string {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	name := first.Method + " " + redact(first.URL)
	if first != req {
		name += " (redirected to " + redact(req.URL) + ")"
	}
	return name
}

// distributionCode is the code of the first error of a distribution error
// body, or "".
func distributionCode(body io.Reader) string {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.NewDecoder(io.LimitReader(body, 4096)).Decode(&e) != nil || len(e.Errors) == 0 {
		return ""
	}
	if code := e.Errors[0].Code; errorCode.MatchString(code) {
		return code
	}
	return ""
}

// transportError is the error of a request that got no response. The
// url.Error of net/http holds the whole URL, query string included, so only
// what it wraps is kept.
func transportError(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return unavailable(req.Method+" "+redact(req.URL), err)
}

// unavailable is err, named name, wrapping ErrUnavailable once.
func unavailable(name string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Errorf("%s: %w: %w", name, ErrUnavailable, err)
}
