package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// request is one request being answered from a set of archives.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	lookup lookup
	log    func(string)
}

// route dispatches path, the escaped request path after /v2/. Names may
// contain slashes, so the kind of endpoint is read from the end of the path;
// an escaped slash stays inside its segment.
func (q *request) route(path string) {
	switch path {
	case "":
		q.writeJSON("application/json", struct{}{})
		return
	case "_catalog":
		q.catalog()
		return
	}
	if name, ok := strings.CutSuffix(path, "/tags/list"); ok {
		name = unescape(name)
		q.withTarget(name, func(t target) { q.tags(name, t) })
		return
	}
	head, ref, ok1 := cutLast(path)
	name, kind, ok2 := cutLast(head)
	name, ref = unescape(name), unescape(ref)
	if !ok1 || !ok2 {
		writeError(q.w, errNotFound, "not an endpoint of the distribution API")
		return
	}
	switch kind {
	case "manifests":
		q.withTarget(name, func(t target) { q.manifest(t, ref) })
	case "blobs":
		q.withTarget(name, func(t target) { q.blob(t, ref) })
	case "referrers":
		q.withTarget(name, func(t target) { q.referrers(t, ref) })
	default:
		writeError(q.w, errNotFound, "not an endpoint of the distribution API")
	}
}

// cutLast splits s at its last slash.
func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// unescape decodes a path segment; one that does not decode is left as it
// is, which no name, tag or digest grammar admits.
func unescape(segment string) string {
	if s, err := url.PathUnescape(segment); err == nil {
		return s
	}
	return segment
}

// withTarget calls serve with the repository name names, or answers why there is none.
func (q *request) withTarget(name string, serve func(target)) {
	t, err := q.lookup.target(name, q.r.URL.Query().Get("ns"))
	if err != nil {
		writeErr(q.w, err)
		return
	}
	serve(t)
}

// pulled passes p to Options.Pulled.
func (q *request) pulled(p Pull) {
	if q.lookup.opts.Pulled != nil {
		q.lookup.opts.Pulled(p)
	}
}

// logUpstream logs err when it is an upstream's failure.
func (q *request) logUpstream(err error) {
	var e *apiError
	if errors.As(err, &e) && e.code == errBadGateway {
		q.log(e.message)
	}
}

// writeJSON answers 200 with v encoded.
func (q *request) writeJSON(contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(q.w, errUnknown, err.Error())
		return
	}
	h := q.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	q.w.WriteHeader(http.StatusOK)
	q.w.Write(body)
}
