package registry

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Upstream is where a Handler gets what its archives lack, to pull through
// (Options.Upstream).
type Upstream interface {
	// Route returns the upstream repository that a request for repository
	// name with ?ns= ns goes to (ns normalized, "" when the request had
	// none); ok is false when no upstream serves it, and nothing is contacted.
	Route(ns, name string) (repo UpstreamRepository, ok bool)
}

// UpstreamRepository is a repository of an upstream registry. What it lacks
// is an error wrapping fs.ErrNotExist; any other error is the upstream's
// failure, answered 502.
type UpstreamRepository interface {
	// Name is the repository's full name, as Pull reports it.
	Name() string
	// Manifest returns the manifest or index ref (a tag or a digest) names, verified.
	Manifest(ctx context.Context, ref string, accept []string) (data []byte, mediaType string, d digest.Digest, err error)
	// Blob returns the size of blob d and a way to read it from start on,
	// whose last byte comes only once the whole blob matched d.
	Blob(ctx context.Context, d digest.Digest) (size int64, open func(ctx context.Context, start int64) (io.ReadCloser, error), err error)
	// Referrers lists the manifests whose subject is d, of artifactType when not "".
	Referrers(ctx context.Context, d digest.Digest, artifactType string) ([]ocispec.Descriptor, error)
}

// Pull is a manifest or a blob served, under the name the client asked for:
// REGISTRY/PATH, or the name as asked when the request named no registry.
// Options.Pulled gets one per manifest answered and per blob sent whole.
type Pull struct {
	Name       string
	Reference  string // the tag or digest asked for
	Descriptor ocispec.Descriptor
	Manifest   []byte // the manifest's bytes; nil for a blob
}

// apiError is an error answered with a code of the distribution spec.
type apiError struct {
	code    errorCode
	message string
}

func (e *apiError) Error() string { return e.message }

// Is makes the not-found kinds fs.ErrNotExist, for in-process callers.
func (e *apiError) Is(target error) bool {
	return target == fs.ErrNotExist && e.code.status == http.StatusNotFound
}

func newAPIError(code errorCode, message string) error {
	return &apiError{code, message}
}

// upstreamError is the answer to a failure of an upstream: what it lacks is
// notFound, anything else a 502 naming it.
func upstreamError(err error, notFound errorCode) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &apiError{notFound, err.Error()}
	}
	return &apiError{errBadGateway, err.Error()}
}

// writeErr answers err, an apiError or an unexpected failure.
func writeErr(w http.ResponseWriter, err error) {
	var e *apiError
	if errors.As(err, &e) {
		writeError(w, e.code, e.message)
		return
	}
	writeError(w, errUnknown, err.Error())
}
