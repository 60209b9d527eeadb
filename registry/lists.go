package registry

import (
	"net/url"
	"slices"
	"sort"
	"strconv"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tags answers the sorted tags of repo, a page at a time with n and last.
func (q *request) tags(name string, t target) {
	if t.repo == nil {
		writeError(q.w, errNameUnknown, "the tags of an upstream's repository are not listed")
		return
	}
	tags := make([]string, 0, len(t.repo.tags))
	for tag := range t.repo.tags {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	page, ok := q.paginate(tags)
	if !ok {
		return
	}
	q.writeJSON("application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, page})
}

// catalog answers the sorted repository names, a page at a time with n and last.
func (q *request) catalog() {
	page, ok := q.paginate(q.lookup.served.catalog.names)
	if !ok {
		return
	}
	q.writeJSON("application/json", struct {
		Repositories []string `json:"repositories"`
	}{page})
}

// paginate returns the page of sorted items that the n and last parameters
// ask for, and sets the Link header to the next page when there is one.
func (q *request) paginate(items []string) ([]string, bool) {
	params := q.r.URL.Query()
	if last := params.Get("last"); last != "" {
		i, found := slices.BinarySearch(items, last)
		if found {
			i++
		}
		items = items[i:]
	}
	if !params.Has("n") {
		return items, true
	}
	n, err := strconv.Atoi(params.Get("n"))
	if err != nil || n < 0 {
		writeError(q.w, errPaginationInvalid, "n must be a number from 0")
		return nil, false
	}
	if n >= len(items) {
		return items, true
	}
	page := items[:n]
	if n > 0 {
		next := url.Values{}
		for k, v := range params {
			next[k] = v
		}
		next.Set("last", page[n-1])
		q.w.Header().Set("Link", `<`+q.r.URL.Path+`?`+next.Encode()+`>; rel="next"`)
	}
	return page, true
}

// referrers answers the OCI 1.1 referrers of the manifest d: the manifests
// whose subject is d, filtered by artifactType.
func (q *request) referrers(t target, ref string) {
	d, err := digest.Parse(ref)
	if err != nil {
		writeError(q.w, errDigestInvalid, "invalid digest")
		return
	}
	filter := q.r.URL.Query().Get("artifactType")
	found, err := q.lookup.referrers(q.r.Context(), t, d, filter)
	if err != nil {
		q.logUpstream(err)
		writeErr(q.w, err)
		return
	}
	if filter != "" {
		q.w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	q.writeJSON(ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: found,
	})
}
