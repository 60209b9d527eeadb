package registry

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifest answers a manifest or index by tag or digest, as stored.
func (q *request) manifest(t target, ref string) {
	m, err := q.lookup.manifest(q.r.Context(), t, ref, q.r.Header.Values("Accept"))
	if err != nil {
		q.logUpstream(err)
		writeErr(q.w, err)
		return
	}
	h := q.w.Header()
	h.Set("Content-Type", m.mediaType)
	h.Set("Docker-Content-Digest", m.digest.String())
	h.Set("ETag", etag(m.digest))
	q.pulled(Pull{Name: t.name, Reference: ref, Descriptor: ocispec.Descriptor{MediaType: m.mediaType, Digest: m.digest, Size: int64(len(m.data))}, Manifest: m.data})
	if etagMatches(q.r.Header.Get("If-None-Match"), m.digest) {
		q.w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(m.data)))
	q.w.WriteHeader(http.StatusOK)
	q.w.Write(m.data)
}

// manifest reads the manifest d of the archive. A manifest that cannot be
// read is logged once.
func (s *source) manifest(ctx context.Context, d digest.Digest) (foundManifest, error) {
	data, _, err := s.Reader.Manifest(d)
	if err != nil {
		s.failed(err)
		s.integrity.check(ctx, d)
		return foundManifest{}, newAPIError(errUnknown, "the manifest cannot be read from its archive")
	}
	return foundManifest{data, s.manifests[d], d}, nil
}

// accepts reports whether the Accept headers admit mediaType: no header, the
// type itself, or */*.
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
