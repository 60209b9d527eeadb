package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ocitar/ocitar/internal/registryname"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// lookup finds what a request names in a set of archives and, for what they
// lack, at the upstream that serves the name. HTTP requests and in-process
// callers (Handler.Manifest, OpenBlob, Referrers) share it.
type lookup struct {
	served *served
	opts   *Options
}

// target is the repository a request names: in the archives, at an
// upstream, or both.
type target struct {
	repo     *repository        // nil when the archives lack it
	upstream UpstreamRepository // nil when no upstream serves it
	name     string             // as Pull reports it
}

// target finds repository name, asked for with ?ns= ns.
func (l lookup) target(name, ns string) (target, error) {
	if !ValidRepository(name) {
		return target{}, newAPIError(errNameInvalid, "invalid repository name")
	}
	ns = registryname.Normalize(ns)
	repo, ambiguous := l.served.catalog.resolve(name, ns)
	if ambiguous != nil {
		l.opts.Log(fmt.Sprintf("repository %s is ambiguous: it is %s; ask for REGISTRY/PATH, or with ?ns=REGISTRY", name, describeKeys(ambiguous)))
		return target{}, newAPIError(errNameUnknown, "repository name is ambiguous: images of several registries have it")
	}
	t := target{repo: repo, name: name}
	if ns != "" {
		t.name = ns + "/" + name
	}
	if l.opts.Upstream != nil {
		if up, ok := l.opts.Upstream.Route(ns, name); ok {
			t.upstream, t.name = up, up.Name()
		}
	}
	if t.repo == nil && t.upstream == nil {
		return target{}, newAPIError(errNameUnknown, "repository name not known to registry")
	}
	return t, nil
}

func describeKeys(keys []repoKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.path + " of " + firstNonEmpty(k.registry, "a tag-only archive")
	}
	return strings.Join(parts, " and ")
}

// foundManifest is a manifest or index and its digest.
type foundManifest struct {
	data      []byte
	mediaType string
	digest    digest.Digest
}

// manifest finds the manifest ref (a tag or a digest) names in t, from its
// archives first. A registry never converts a manifest, so one whose type
// accept excludes is MANIFEST_UNKNOWN, as distribution answers.
func (l lookup) manifest(ctx context.Context, t target, ref string, accept []string) (foundManifest, error) {
	if err := checkReference(ref); err != nil {
		return foundManifest{}, err
	}
	var m foundManifest
	var err error
	switch src, d, ok := t.repo.findManifest(ref); {
	case ok:
		m, err = src.manifest(ctx, d)
	case t.upstream != nil:
		m.data, m.mediaType, m.digest, err = t.upstream.Manifest(ctx, ref, accept)
		if err != nil {
			err = upstreamError(err, errManifestUnknown)
		}
	default:
		err = newAPIError(errManifestUnknown, "manifest unknown")
	}
	if err == nil && !accepts(accept, m.mediaType) {
		err = newAPIError(errManifestUnknown, fmt.Sprintf("the manifest is a %s, which the Accept header does not list", m.mediaType))
	}
	return m, err
}

// checkReference checks that ref is a tag or a digest.
func checkReference(ref string) error {
	if !strings.Contains(ref, ":") {
		if !tagPattern.MatchString(ref) {
			return newAPIError(errTagInvalid, "invalid tag")
		}
		return nil
	}
	if _, err := digest.Parse(ref); err != nil {
		return newAPIError(errDigestInvalid, "invalid digest")
	}
	return nil
}

// findManifest finds the manifest ref names in the archives of repo, nil
// for none: a tag, or a digest of a manifest of one of them.
func (repo *repository) findManifest(ref string) (*source, digest.Digest, bool) {
	if repo == nil {
		return nil, "", false
	}
	if t, ok := repo.tags[ref]; ok {
		return t.src, t.digest, true
	}
	d := digest.Digest(ref)
	for _, src := range repo.sources {
		if _, ok := src.manifests[d]; ok {
			return src, d, true
		}
	}
	return nil, "", false
}

// foundBlob is a blob and where its bytes are.
type foundBlob struct {
	blobContent
	src     *source // nil for an upstream's blob
	checked bool    // known to match its digest, or read through a reader that checks it
}

// blob finds blob d in t, from its archives first. A small blob not hashed
// yet is hashed now, so that a mismatch is an error rather than a cut response.
func (l lookup) blob(ctx context.Context, t target, d digest.Digest) (foundBlob, error) {
	if src, content, ok := findBlob(t.repo, d); ok {
		checked, bad := src.integrity.known(d)
		if !checked && content.size <= smallBlob {
			checked, bad = true, src.integrity.check(ctx, d)
		}
		if bad != nil {
			return foundBlob{}, newAPIError(errUnknown, "the blob fails its digest in its archive")
		}
		return foundBlob{content, src, checked}, nil
	}
	if t.upstream == nil {
		return foundBlob{}, newAPIError(errBlobUnknown, "blob unknown to registry")
	}
	size, open, err := t.upstream.Blob(ctx, d)
	if err != nil {
		return foundBlob{}, upstreamError(err, errBlobUnknown)
	}
	content := blobContent{size: size, open: func(start int64) (io.ReadCloser, error) { return open(ctx, start) }}
	if size <= smallBlob {
		if content, err = readWhole(content); err != nil {
			return foundBlob{}, upstreamError(err, errBlobUnknown)
		}
	}
	return foundBlob{content, nil, true}, nil
}

// readWhole reads the small blob of content into memory, checked by its reader.
func readWhole(content blobContent) (blobContent, error) {
	rc, err := content.open(0)
	if err != nil {
		return blobContent{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, content.size))
	if err != nil {
		return blobContent{}, err
	}
	return blobContent{size: int64(len(data)), open: func(start int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data[start:])), nil
	}}, nil
}

// referrers lists the manifests whose subject is d, of artifactType when not
// "": those of t's archives, and, for a manifest they lack, the upstream's.
func (l lookup) referrers(ctx context.Context, t target, d digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	found := []ocispec.Descriptor{}
	add := func(desc ocispec.Descriptor) {
		if (artifactType == "" || desc.ArtifactType == artifactType) && !slices.ContainsFunc(found, func(f ocispec.Descriptor) bool { return f.Digest == desc.Digest }) {
			found = append(found, desc)
		}
	}
	local := false
	if t.repo != nil {
		for _, src := range t.repo.sources {
			_, has := src.manifests[d]
			local = local || has
			for _, desc := range src.referrers[d] {
				add(desc)
			}
		}
	}
	if t.upstream == nil || local {
		return found, nil
	}
	descs, err := t.upstream.Referrers(ctx, d, artifactType)
	if err != nil {
		return nil, upstreamError(err, errManifestUnknown)
	}
	for _, desc := range descs {
		add(desc)
	}
	return found, nil
}
