package archive

import "github.com/ocitar/ocitar/internal/errkind"

// Error kinds. Every error this package, store and rootfs return for bad input
// wraps one of these, so callers can tell them apart with errors.Is.
var (
	ErrNotArchive        = errkind.ErrNotArchive
	ErrUnsafeEntry       = errkind.ErrUnsafeEntry
	ErrUnsupportedEntry  = errkind.ErrUnsupportedEntry
	ErrAmbiguousEntry    = errkind.ErrAmbiguousEntry
	ErrMissingEntry      = errkind.ErrMissingEntry
	ErrBadLink           = errkind.ErrBadLink
	ErrNoLayout          = errkind.ErrNoLayout
	ErrInvalidMetadata   = errkind.ErrInvalidMetadata
	ErrMissingBlob       = errkind.ErrMissingBlob
	ErrDigestMismatch    = errkind.ErrDigestMismatch
	ErrSizeMismatch      = errkind.ErrSizeMismatch
	ErrTooLarge          = errkind.ErrTooLarge
	ErrUnsupportedDigest = errkind.ErrUnsupportedDigest
	ErrNoMatch           = errkind.ErrNoMatch
	ErrAmbiguous         = errkind.ErrAmbiguous
	ErrBadSelector       = errkind.ErrBadSelector
	ErrWrongBase         = errkind.ErrWrongBase // a stack's member that a delta above it records as a base by name, with another identity
	ErrBadStack          = errkind.ErrBadStack  // a stack that names one archive twice
)
