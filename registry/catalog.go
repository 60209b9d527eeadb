package registry

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
)

// repository is what one repository serves: its tags and the archives its
// images come from, where its manifests and blobs are looked up by digest.
type repository struct {
	key     repoKey
	tags    map[string]tagged
	sources []*source
}

// tagged is the image a tag names.
type tagged struct {
	src    *source
	digest digest.Digest
}

// catalog maps repository names to repositories.
type catalog struct {
	repos  map[repoKey]*repository
	byPath map[string][]repoKey // every key of a path, for names asked without ?ns=
	names  []string             // the names that resolve to one repository, sorted
}

// claim is an image claiming a tag.
type claim struct {
	src *source
	img archive.Image
}

// newCatalog names the images of sources. A tag that images of different
// digests claim is served by none of them; log says so, one line each.
func newCatalog(sources []*source, log func(string)) *catalog {
	c := &catalog{repos: map[repoKey]*repository{}, byPath: map[string][]repoKey{}}
	claims := map[imageName][]claim{}
	for _, src := range sources {
		for _, img := range src.Reader.Images() {
			for _, n := range c.imageNames(src, img, log) {
				claims[n] = append(claims[n], claim{src, img})
			}
		}
	}
	for n, cl := range claims {
		if conflict(cl) {
			log(fmt.Sprintf("%s:%s is claimed by %s; serving neither under that name", n.key, n.tag, describeClaims(cl)))
			continue
		}
		c.repos[n.key].tags[n.tag] = tagged{cl[0].src, cl[0].img.Descriptor.Digest}
	}
	c.names = c.servedNames()
	return c
}

// imageNames are the names img is served under, each repository added to the catalog.
// An image without names belongs to the archive's bare repository, untagged.
func (c *catalog) imageNames(src *source, img archive.Image, log func(string)) []imageName {
	if len(img.Names) == 0 && src.Repo != "" {
		c.add(repoKey{"", src.Repo}, src)
	}
	var out []imageName
	for _, name := range img.Names {
		n, ok := parseImageName(name, src.Repo)
		if !ok {
			log(fmt.Sprintf("%s: image @%d: cannot serve the name %q%s", src.Reader.Name(), img.Position, name, bareHint(name, src.Repo)))
			continue
		}
		c.add(n.key, src)
		out = append(out, n)
	}
	return out
}

func bareHint(name, bareRepo string) string {
	if bareRepo == "" && !strings.ContainsAny(name, "/:@") {
		return " (a tag alone: give the archive as REPO=PATH)"
	}
	return ""
}

// add makes src one of the archives of the repository key.
func (c *catalog) add(key repoKey, src *source) {
	r, ok := c.repos[key]
	if !ok {
		r = &repository{key: key, tags: map[string]tagged{}}
		c.repos[key] = r
		c.byPath[key.path] = append(c.byPath[key.path], key)
	}
	if !slices.Contains(r.sources, src) {
		r.sources = append(r.sources, src)
	}
}

// conflict reports whether the claims name images of more than one digest.
func conflict(cl []claim) bool {
	for _, c := range cl[1:] {
		if c.img.Descriptor.Digest != cl[0].img.Descriptor.Digest {
			return true
		}
	}
	return false
}

func describeClaims(cl []claim) string {
	parts := make([]string, len(cl))
	for i, c := range cl {
		parts[i] = fmt.Sprintf("%s @%d %s", c.src.Reader.Name(), c.img.Position, c.img.Descriptor.Digest)
	}
	return strings.Join(parts, " and ")
}

// resolve finds the repository of name: with ns (normalized), the one of registry ns;
// without, the one name spells in full (REGISTRY/PATH) or whose path is name.
// When several match, it returns none and their keys.
func (c *catalog) resolve(name, ns string) (*repository, []repoKey) {
	if ns != "" {
		return c.repos[repoKey{ns, name}], nil
	}
	keys := slices.Clone(c.byPath[name])
	if registry, path, ok := strings.Cut(name, "/"); ok {
		if _, full := c.repos[repoKey{registry, path}]; full {
			keys = append(keys, repoKey{registry, path})
		}
	}
	switch len(keys) {
	case 0:
		return nil, nil
	case 1:
		return c.repos[keys[0]], nil
	}
	return nil, keys
}

// servedNames lists the names that resolve to one repository without ?ns=.
func (c *catalog) servedNames() []string {
	var names []string
	for key := range c.repos {
		for _, name := range key.names() {
			if r, _ := c.resolve(name, ""); r != nil {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}
