package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
)

// displayName is u without userinfo, query string or fragment: how errors
// name the object, free of passwords and presigned signatures.
func displayName(u *url.URL) string {
	bare := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return bare.String()
}

// identity hashes where the object is (its URL without secrets, so that a
// new presigned URL for the same object gives the same identity) and
// which version of it this is.
func identity(u *url.URL, validator string, size int64) string {
	h := sha256.New()
	fmt.Fprintf(h, "remote\x00%s\x00%s\x00%d", displayName(u), validator, size)
	return hex.EncodeToString(h.Sum(nil))
}
