package source

import "io"

// Source is random access to the bytes of one object, safe for concurrent use.
type Source interface {
	io.ReaderAt
	// Size is the number of bytes the object holds.
	Size() int64
	// Identity names the object and its version: two Sources of the same
	// Identity hold the same bytes. It is a lowercase hex string, usable
	// as a file name.
	Identity() string
	// Name is how errors name the object: a path, or a URL without secrets.
	Name() string
}
