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
func (q *request) tags(name string, repo *repository) {
	tags := make([]string, 0, len(repo.tags))
	for t := range repo.tags {
		tags = append(tags, t)
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
	page, ok := q.paginate(q.served.catalog.names)
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

// referrers answers the OCI 1.1 referrers of the manifest d: the manifests of
// the repository's archives whose subject is d, filtered by artifactType.
func (q *request) referrers(repo *repository, ref string) {
	d, err := digest.Parse(ref)
	if err != nil {
		writeError(q.w, errDigestInvalid, "invalid digest")
		return
	}
	params := q.r.URL.Query()
	filter := params.Get("artifactType")
	found := []ocispec.Descriptor{}
	for _, src := range repo.sources {
		for _, desc := range src.referrers[d] {
			if (filter == "" || desc.ArtifactType == filter) && !slices.ContainsFunc(found, func(f ocispec.Descriptor) bool { return f.Digest == desc.Digest }) {
				found = append(found, desc)
			}
		}
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
