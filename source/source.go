package source

import (
	"context"
	"io"
)

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

// Streamer is a Source that reads a stretch of its bytes as one stream more
// cheaply than by ReadAt: one request for a remote object. A long read in
// order (a blob, a pass over a whole archive) uses it when it is there.
type Streamer interface {
	OpenRange(ctx context.Context, off, n int64) (io.ReadCloser, error)
}
