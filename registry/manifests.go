package registry

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// manifest answers a manifest or index by tag or digest, as stored.
func (q *request) manifest(repo *repository, ref string) {
	src, d, ok := q.findManifest(repo, ref)
	if !ok {
		return
	}
	data, _, err := src.Reader.Manifest(d)
	if err != nil {
		src.failed(err)
		src.integrity.check(q.r.Context(), d) // logs a corrupt manifest once
		writeError(q.w, errUnknown, "the manifest cannot be read from its archive")
		return
	}
	mediaType := src.manifests[d]
	if !accepts(q.r.Header.Values("Accept"), mediaType) {
		writeError(q.w, errManifestUnknown, fmt.Sprintf("the manifest is a %s, which the Accept header does not list", mediaType))
		return
	}
	h := q.w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Docker-Content-Digest", d.String())
	h.Set("ETag", etag(d))
	if etagMatches(q.r.Header.Get("If-None-Match"), d) {
		q.w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	q.w.WriteHeader(http.StatusOK)
	q.w.Write(data)
}

// findManifest finds the manifest ref names in repo: a tag, or a digest of a
// manifest of the repository's archives. It answers the error itself.
func (q *request) findManifest(repo *repository, ref string) (*source, digest.Digest, bool) {
	if !strings.Contains(ref, ":") {
		if !tagPattern.MatchString(ref) {
			writeError(q.w, errTagInvalid, "invalid tag")
			return nil, "", false
		}
		t, ok := repo.tags[ref]
		if !ok {
			writeError(q.w, errManifestUnknown, "manifest unknown")
		}
		return t.src, t.digest, ok
	}
	d, err := digest.Parse(ref)
	if err != nil {
		writeError(q.w, errDigestInvalid, "invalid digest")
		return nil, "", false
	}
	for _, src := range repo.sources {
		if _, ok := src.manifests[d]; ok {
			return src, d, true
		}
	}
	writeError(q.w, errManifestUnknown, "manifest unknown")
	return nil, "", false
}

// accepts reports whether the Accept headers admit mediaType: no header, the
// type itself, or */*. A registry never converts a manifest, so a client
// that excludes its type gets MANIFEST_UNKNOWN, as distribution answers.
func accepts(headers []string, mediaType string) bool {
	if len(headers) == 0 {
		return true
	}
	for _, h := range headers {
		for _, item := range strings.Split(h, ",") {
			t, _, err := mime.ParseMediaType(item)
			if err == nil && (t == mediaType || t == "*/*") {
				return true
			}
		}
	}
	return false
}

// etag is the entity tag of the content d names.
func etag(d digest.Digest) string {
	return `"` + d.String() + `"`
}

// etagMatches reports whether an If-None-Match header names d, or any content.
func etagMatches(header string, d digest.Digest) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag(d) {
			return true
		}
	}
	return false
}
