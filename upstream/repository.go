package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/errkind"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of docker's manifest list and schema 2 manifest.
const (
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
)

// defaultAccept is what a manifest request accepts when its client said
// nothing.
var defaultAccept = []string{ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest, dockerManifestList, dockerManifest}

// Repository is one repository of an upstream, as Set.Route found it.
type Repository struct {
	set      *Set
	client   *client
	registry string
	path     string
}

// Name is the name a recording gives the repository: REGISTRY/PATH for a
// named upstream, PATH for the unnamed one.
func (r *Repository) Name() string {
	if r.registry == "" {
		return r.path
	}
	return r.registry + "/" + r.path
}

// Manifest is the manifest or index ref names, a tag or a digest, with its
// media type and digest. A tag is always asked of the upstream; a digest is
// read from the cache when this repository fetched it already. What the
// upstream sends is verified: by digest, the body must hash to it; by tag, to
// the Docker-Content-Digest header when there is one. It is at most
// archive.MaxManifestSize. accept is the client's Accept; none accepts every
// manifest and index. mediaType is the body's "mediaType", else the
// Content-Type without its parameters (registries and web servers send
// text/plain or application/octet-stream).
func (r *Repository) Manifest(ctx context.Context, ref string, accept []string) (data []byte, mediaType string, d digest.Digest, err error) {
	if len(accept) == 0 {
		accept = defaultAccept
	}
	if !strings.Contains(ref, ":") {
		return r.fetchManifest(ctx, ref, "", accept)
	}
	want, err := digest.Parse(ref)
	if err != nil {
		return nil, "", "", fmt.Errorf("upstream %s: manifest %q: %w", r.Name(), ref, err)
	}
	if data, mediaType, ok := r.keptManifest(want); ok {
		return data, mediaType, want, nil
	}
	return r.fetchManifest(ctx, ref, want, accept)
}

// keptManifest is manifest d from the cache, if this repository fetched it
// and the cache still holds it whole.
func (r *Repository) keptManifest(d digest.Digest) ([]byte, string, bool) {
	mediaType, ok := r.set.recall(manifestKey{r.client, r.path, d})
	if !ok {
		return nil, "", false
	}
	f, _, err := r.set.cache.Open(d)
	if err != nil {
		return nil, "", false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, archive.MaxManifestSize+1))
	if err != nil || len(data) > archive.MaxManifestSize || d.Algorithm().FromBytes(data) != d {
		return nil, "", false
	}
	return data, mediaType, true
}

// fetchManifest GETs manifest ref, verified against want when it is a
// digest, and keeps it.
func (r *Repository) fetchManifest(ctx context.Context, ref string, want digest.Digest, accept []string) ([]byte, string, digest.Digest, error) {
	resp, err := r.client.get(ctx, r.path, "manifests/"+ref, nil, accept)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	name := requestName(resp.Request)
	data, err := readManifest(resp)
	if err != nil {
		return nil, "", "", unavailable(name, err)
	}
	d, err := verifyManifest(data, want, resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return nil, "", "", unavailable(name, err)
	}
	mediaType := manifestMediaType(resp.Header.Get("Content-Type"), data)
	r.keep(d, data, mediaType)
	return data, mediaType, d, nil
}

// readManifest reads a manifest's body, refusing one larger than
// archive.MaxManifestSize.
func readManifest(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > archive.MaxManifestSize {
		return nil, fmt.Errorf("%w: a manifest of %d bytes, more than %d", errkind.ErrTooLarge, resp.ContentLength, archive.MaxManifestSize)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, archive.MaxManifestSize+1))
	switch {
	case err != nil:
		return nil, err
	case len(data) > archive.MaxManifestSize:
		return nil, fmt.Errorf("%w: a manifest of more than %d bytes", errkind.ErrTooLarge, archive.MaxManifestSize)
	}
	return data, nil
}

// verifyManifest checks data against want, when it is not "", or else the
// Docker-Content-Digest header, when there is one, and returns its digest.
func verifyManifest(data []byte, want digest.Digest, header string) (digest.Digest, error) {
	if want != "" {
		if got := want.Algorithm().FromBytes(data); got != want {
			return "", fmt.Errorf("%w: the manifest is %s", errkind.ErrDigestMismatch, got)
		}
		return want, nil
	}
	if header != "" {
		claimed, err := digest.Parse(header)
		if err != nil {
			return "", fmt.Errorf("%w: Docker-Content-Digest %q", errkind.ErrInvalidMetadata, header)
		}
		if got := claimed.Algorithm().FromBytes(data); got != claimed {
			return "", fmt.Errorf("%w: Docker-Content-Digest is %s, the manifest %s", errkind.ErrDigestMismatch, claimed, got)
		}
	}
	return digest.FromBytes(data), nil
}

// manifestMediaType is the manifest's own "mediaType", which its digest
// covers, else contentType without its parameters.
func manifestMediaType(contentType string, data []byte) string {
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(data, &m) == nil && m.MediaType != "" {
		return m.MediaType
	}
	mediaType, _, _ := mime.ParseMediaType(contentType)
	return mediaType
}

// keep puts manifest d into the cache and remembers its media type; a
// manifest the cache does not take is fetched again when asked for.
func (r *Repository) keep(d digest.Digest, data []byte, mediaType string) {
	if _, _, _, err := r.set.cache.Put(bytes.NewReader(data), d); err == nil {
		r.set.remember(manifestKey{r.client, r.path, d}, mediaType)
	}
}
