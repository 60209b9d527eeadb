package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// request is one request being answered from a set of archives.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	served *served
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
		q.withRepository(name, func(repo *repository) { q.tags(name, repo) })
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
		q.withRepository(name, func(repo *repository) { q.manifest(repo, ref) })
	case "blobs":
		q.withRepository(name, func(repo *repository) { q.blob(repo, ref) })
	case "referrers":
		q.withRepository(name, func(repo *repository) { q.referrers(repo, ref) })
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

// withRepository calls serve with the repository name names, or answers why there is none.
func (q *request) withRepository(name string, serve func(*repository)) {
	if !ValidRepository(name) {
		writeError(q.w, errNameInvalid, "invalid repository name")
		return
	}
	repo, ambiguous := q.served.catalog.resolve(name, q.r.URL.Query().Get("ns"))
	if ambiguous != nil {
		q.log(fmt.Sprintf("repository %s is ambiguous: it is %s; ask for REGISTRY/PATH, or with ?ns=REGISTRY", name, describeKeys(ambiguous)))
		writeError(q.w, errNameUnknown, "repository name is ambiguous: images of several registries have it")
		return
	}
	if repo == nil {
		writeError(q.w, errNameUnknown, "repository name not known to registry")
		return
	}
	serve(repo)
}

func describeKeys(keys []repoKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.path + " of " + firstNonEmpty(k.registry, "a tag-only archive")
	}
	return strings.Join(parts, " and ")
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
