package archive

import (
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
)

// verifiedReader passes a blob through and fails at EOF unless its digest and
// size are the expected ones.
type verifiedReader struct {
	*hashingReader
	closer   io.Closer
	what     string
	expected digest.Digest
	size     int64 // -1 when unknown
	err      error
}

// NewVerifiedReader passes r through and fails the Read that reaches EOF
// unless what was read has digest d and, unless size is -1, size bytes; it
// fails as soon as more than size bytes come. Errors start with what (the
// blob and where it comes from) and wrap ErrDigestMismatch or ErrSizeMismatch.
// It lets a tool's own BlobOpener verify as the package's do.
func NewVerifiedReader(r io.ReadCloser, what string, d digest.Digest, size int64) (io.ReadCloser, error) {
	return newVerifiedReader(r, what, d, size)
}

func newVerifiedReader(r io.ReadCloser, what string, d digest.Digest, size int64) (*verifiedReader, error) {
	if !d.Algorithm().Available() {
		r.Close()
		return nil, fmt.Errorf("%s: %w: unsupported digest algorithm %q", what, ErrDigestMismatch, d.Algorithm())
	}
	return &verifiedReader{hashingReader: newHashingReader(r, d.Algorithm()), closer: r, what: what, expected: d, size: size}, nil
}

func (v *verifiedReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.hashingReader.Read(p)
	switch {
	case v.size >= 0 && v.n > v.size:
		v.err = fmt.Errorf("%s: %w: more than the %d bytes declared", v.what, ErrSizeMismatch, v.size)
	case err == io.EOF:
		v.err = io.EOF
		if verr := v.verify(v.expected, v.size); verr != nil {
			v.err = fmt.Errorf("%s: %w", v.what, verr)
		}
	case err != nil:
		v.err = fmt.Errorf("%s: %w", v.what, err)
	}
	if v.err != nil {
		return n, v.err
	}
	return n, nil
}

func (v *verifiedReader) Close() error {
	return v.closer.Close()
}

// readVerified reads a whole stream through a verifiedReader, refusing more than limit bytes.
func readVerified(r io.ReadCloser, what string, d digest.Digest, size, limit int64) ([]byte, error) {
	if size > limit {
		r.Close()
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d", what, ErrTooLarge, size, limit)
	}
	v, err := newVerifiedReader(r, what, d, size)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	data, err := io.ReadAll(io.LimitReader(v, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", what, ErrTooLarge, limit)
	}
	return data, nil
}
