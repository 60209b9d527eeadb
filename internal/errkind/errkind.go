package errkind

import "errors"

// Error kinds; archive/errors.go documents them for users.
var (
	ErrNotArchive        = errors.New("not a readable tar archive")
	ErrUnsafeEntry       = errors.New("unsafe entry name")
	ErrUnsupportedEntry  = errors.New("unsupported tar entry")
	ErrAmbiguousEntry    = errors.New("ambiguous duplicate entry")
	ErrMissingEntry      = errors.New("no such entry in the archive")
	ErrBadLink           = errors.New("bad link")
	ErrNoLayout          = errors.New("neither an OCI layout (index.json) nor a docker-save archive (manifest.json)")
	ErrInvalidMetadata   = errors.New("invalid metadata")
	ErrMissingBlob       = errors.New("blob missing from the archive")
	ErrDigestMismatch    = errors.New("digest mismatch")
	ErrSizeMismatch      = errors.New("size mismatch")
	ErrTooLarge          = errors.New("too large")
	ErrUnsupportedDigest = errors.New("unsupported digest algorithm")
	ErrNoMatch           = errors.New("no image matches")
	ErrAmbiguous         = errors.New("more than one image matches")
	ErrBadSelector       = errors.New("invalid image selector")
	ErrWrongBase         = errors.New("not the base the delta was written against")
	ErrBadStack          = errors.New("invalid stack")
)
