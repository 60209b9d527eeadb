package archive

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Selector picks an image of an archive: by name, by position (@N) or by
// manifest digest (@sha256:...). The zero Selector picks the only image.
type Selector struct {
	name     string
	position int // the position + 1; 0 when not selecting by position, so that the zero Selector picks the only image
	digest   digest.Digest
}

// ParseSelector parses the SELECTOR of oci-tar:PATH[:SELECTOR].
func ParseSelector(s string) (Selector, error) {
	var sel Selector
	switch {
	case s == "":
	case strings.HasPrefix(s, "@") && strings.Contains(s, ":"):
		d, err := digest.Parse(s[1:])
		if err != nil {
			return Selector{}, fmt.Errorf("%w %q: %w", ErrBadSelector, s, err)
		}
		sel.digest = d
	case strings.HasPrefix(s, "@"):
		n, err := strconv.Atoi(s[1:])
		if err != nil || n < 0 {
			return Selector{}, fmt.Errorf("%w %q: @ takes a position from 0 or a digest", ErrBadSelector, s)
		}
		sel.position = n + 1
	default:
		sel.name = s
	}
	return sel, nil
}

// IsZero reports whether the selector picks the only image.
func (s Selector) IsZero() bool {
	return s.name == "" && s.position == 0 && s.digest == ""
}

// Name is the name the selector matches, "" when it selects otherwise.
func (s Selector) Name() string { return s.name }

// String is the selector as written.
func (s Selector) String() string {
	switch {
	case s.digest != "":
		return "@" + s.digest.String()
	case s.position > 0:
		return "@" + strconv.Itoa(s.position-1)
	}
	return s.name
}

// Matches reports whether img is picked by the selector.
func (s Selector) Matches(img Image) bool {
	switch {
	case s.digest != "":
		return img.Descriptor.Digest == s.digest
	case s.position > 0:
		return img.Position == s.position-1
	case s.name != "":
		return slices.ContainsFunc(img.Names, func(n string) bool { return nameMatches(s.name, n) })
	}
	return true
}

func (s Selector) filter(images []Image) []Image {
	var out []Image
	for _, img := range images {
		if s.Matches(img) {
			out = append(out, img)
		}
	}
	return out
}

// nameMatches compares a selector name with an image name: equal as written, or
// equal as docker references once both are normalized, so that "alpine" finds
// "docker.io/library/alpine:latest". A bare tag ("latest", as oci-archive writes
// ref.name) only matches as written.
func nameMatches(want, have string) bool {
	if want == have {
		return true
	}
	if isBareTag(have) {
		return false
	}
	w, ok1 := normalizeReference(want)
	h, ok2 := normalizeReference(have)
	return ok1 && ok2 && w == h
}

func isBareTag(name string) bool {
	return !strings.ContainsAny(name, "/:@")
}

// normalizeReference spells a docker reference in full: registry, repository path
// and tag (latest when it has neither tag nor digest).
func normalizeReference(ref string) (string, bool) {
	if ref == "" {
		return "", false
	}
	name, suffix := ref, ""
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, suffix = name[:i], name[i:]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, suffix = name[:i], name[i:]+suffix
	}
	if suffix == "" {
		suffix = ":latest"
	}
	domain, rest, found := strings.Cut(name, "/")
	if !found || !strings.ContainsAny(domain, ".:") && domain != "localhost" && strings.ToLower(domain) == domain {
		domain, rest = "docker.io", name
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	if rest == "" {
		return "", false
	}
	return domain + "/" + rest + suffix, true
}

// refNamePattern is the grammar of org.opencontainers.image.ref.name in the OCI image-spec.
var refNamePattern = regexp.MustCompile(`^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$`)

// ValidateRefName checks that name may be stored as org.opencontainers.image.ref.name.
func ValidateRefName(name string) error {
	if !refNamePattern.MatchString(name) {
		return fmt.Errorf("%w: %q is not a valid image name (org.opencontainers.image.ref.name)", ErrBadSelector, name)
	}
	return nil
}

// NameAnnotations name an image in index.json: org.opencontainers.image.ref.name
// as given, and, when name is a docker reference rather than a bare tag,
// io.containerd.image.name, the reference in full.
func NameAnnotations(name string) map[string]string {
	a := map[string]string{ocispec.AnnotationRefName: name}
	if full, ok := normalizeReference(name); ok && !isBareTag(name) {
		a[AnnotationContainerdImageName] = full
	}
	return a
}

// RepoTag is name as docker's manifest.json lists it, when name is a docker
// reference with a tag (latest when it has none) and no digest.
func RepoTag(name string) (string, bool) {
	full, ok := normalizeReference(name)
	if !ok || isBareTag(name) || strings.Contains(full, "@") {
		return "", false
	}
	return full, true
}
