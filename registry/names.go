package registry

import (
	"regexp"
	"strings"

	"github.com/ocitar/ocitar/archive"
)

// Grammars of the distribution spec.
var (
	repoPathPattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagPattern      = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

const maxNameLength = 255

// ValidRepository reports whether name may be a repository name.
func ValidRepository(name string) bool {
	return len(name) <= maxNameLength && repoPathPattern.MatchString(name)
}

// repoKey identifies a repository: the registry its images were named under
// ("" for images named by a tag alone) and its path there.
type repoKey struct {
	registry string
	path     string
}

// String is the repository's name as served without ?ns=.
func (k repoKey) String() string {
	if k.registry == "" || strings.Contains(k.registry, ":") {
		return k.path
	}
	return k.registry + "/" + k.path
}

// names are the repository names a key is served as: REGISTRY/PATH when the
// registry has no port, and PATH, the form a mirror client asks for.
func (k repoKey) names() []string {
	if full := k.String(); full != k.path {
		return []string{full, k.path}
	}
	return []string{k.path}
}

// imageName is one name of an image, split into repository and tag.
type imageName struct {
	key repoKey
	tag string
}

// parseImageName splits a name an archive gives an image. A tag alone belongs
// to bareRepo; a docker reference is normalized (alpine:3 is
// docker.io/library/alpine:3, tag latest when none). ok is false for names
// that cannot be served: a reference by digest only, an invalid path or tag,
// or a tag alone when bareRepo is "".
func parseImageName(name, bareRepo string) (imageName, bool) {
	if !strings.ContainsAny(name, "/:@") {
		return imageName{repoKey{"", bareRepo}, name}, bareRepo != "" && tagPattern.MatchString(name)
	}
	full, ok := archive.RepoTag(name)
	if !ok {
		return imageName{}, false
	}
	i := strings.LastIndexByte(full, ':')
	registry, path, _ := strings.Cut(full[:i], "/")
	n := imageName{repoKey{strings.ToLower(registry), path}, full[i+1:]}
	return n, ValidRepository(path) && tagPattern.MatchString(n.tag)
}

// BareRepository is the repository a file's images named by a tag alone are
// served in when none is given: its base name up to the first dot, in lower
// case (bundle.oci.tar is bundle), or "" when that is not a repository name.
func BareRepository(path string) string {
	base := path[strings.LastIndexByte(strings.TrimRight(path, "/"), '/')+1:]
	base, _, _ = strings.Cut(strings.TrimRight(base, "/"), ".")
	base = strings.ToLower(base)
	if !ValidRepository(base) {
		return ""
	}
	return base
}
