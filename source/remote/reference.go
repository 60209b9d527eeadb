package remote

import (
	"fmt"
	"strings"
)

// schemes are the locations IsRemote recognizes.
var schemes = []string{"https", "http", "s3"}

// IsRemote reports whether s, what follows "oci-tar:", starts with
// https://, http:// or s3://, in any case.
func IsRemote(s string) bool {
	for _, scheme := range schemes {
		if hasScheme(s, scheme) {
			return true
		}
	}
	return false
}

// SplitReference splits the LOCATION[:SELECTOR] of an oci-tar: reference
// whose location is remote (IsRemote). The location ends at its first
// colon after the host (the host ends at the first '/'; a colon before
// it is that of a port or of an IPv6 literal in brackets), and the
// selector, which may hold colons, is all that follows. A query string,
// that of a presigned URL, belongs to the location; a colon in the path
// or the query is written %3A, which servers and SigV4 take as ':'. A
// selector holding '?', '&' or '=', which no image name or digest holds,
// is the rest of a path or query cut at a colon written as it is: it is
// refused, and not shown, since it may hold a signature. The location
// has a path, and its scheme in lowercase. Show it with Redact.
func SplitReference(s string) (location, selector string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !IsRemote(s) {
		return "", "", fmt.Errorf("%s: not an https://, http:// or s3:// location", Redact(s))
	}
	scheme = strings.ToLower(scheme)
	host, path, ok := strings.Cut(rest, "/")
	if !ok || host == "" {
		parts := "a host and a path"
		if scheme == "s3" {
			parts = "a bucket and a key"
		}
		return "", "", fmt.Errorf("%s: a location needs %s", Redact(s), parts)
	}
	path, selector, _ = strings.Cut(path, ":")
	location = scheme + "://" + host + "/" + path
	if strings.ContainsAny(selector, "?&=") {
		return "", "", fmt.Errorf("%s: a colon in the path or the query string of a URL is written %%3A", Redact(location))
	}
	if err := checkLocation(scheme, location); err != nil {
		return "", "", err
	}
	return location, selector, nil
}

// checkLocation parses location as Open will.
func checkLocation(scheme, location string) error {
	if scheme == "s3" {
		_, _, err := ParseS3(location)
		return err
	}
	u, err := parseHTTP(location)
	if err != nil {
		return err
	}
	if strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("%s: no path", displayName(u))
	}
	return nil
}
