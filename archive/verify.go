package archive

import (
	"errors"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/source"

	"github.com/ocitar/ocitar/internal/compression"
	digest "github.com/opencontainers/go-digest"
)

// Report is what Verify found in an archive.
type Report struct {
	Images   int     // images listed and walked
	Blobs    int     // distinct blobs they reference, each read whole
	Problems []error // every problem found, each naming the archive; none when the archive is sound
}

// Verify checks the archive at path ("-" for standard input): its tar
// structure, every reference from index.json and manifest.json to manifests,
// configs and layers, and the digest and size of every blob referenced. Unlike
// Open, it reports every problem it finds rather than the first: a bad entry
// or image is recorded and the rest is still checked. Problems that leave
// nothing to walk (a tar that cannot be indexed, an unreadable index.json) end
// the check.
func Verify(path string, opts Options) Report {
	return verifyOpened(path, func(opts Options) (*Reader, error) { return Open(path, opts) }, opts)
}

// VerifySource is Verify of the archive src holds.
func VerifySource(src source.Source, opts Options) Report {
	return verifyOpened(src.Name(), func(opts Options) (*Reader, error) { return OpenSource(src, opts) }, opts)
}

func verifyOpened(name string, open func(Options) (*Reader, error), opts Options) Report {
	var problems []error
	opts.problems = &problems
	r, err := open(opts)
	if err != nil {
		return Report{Problems: append(nameProblems(name, problems), err)}
	}
	defer r.Close()
	return r.verify(nameProblems(r.name, problems))
}

// verify reads every blob the images of r reference, adding what fails to
// problems: a blob r lacks once for each image that references it, any
// other failure once.
func (r *Reader) verify(problems []error) Report {
	rep := Report{Images: len(r.images), Problems: problems}
	failed := map[digest.Digest]error{}
	for _, img := range r.images {
		for _, b := range img.Blobs {
			err, seen := failed[b.Digest]
			if !seen {
				rep.Blobs++
				err = r.verifyBlob(b.Digest, b.Size)
				failed[b.Digest] = err
				if err != nil && !errors.Is(err, ErrMissingBlob) {
					rep.Problems = append(rep.Problems, err)
				}
			}
			if errors.Is(err, ErrMissingBlob) {
				rep.Problems = append(rep.Problems, fmt.Errorf("%s: %w: %s (%s), of image %s", r.name, ErrMissingBlob, b.Digest, b.MediaType, img))
			}
		}
	}
	return rep
}

// nameProblems prefixes problems found while opening with the archive's name,
// as the errors Open returns are.
func nameProblems(path string, problems []error) []error {
	if path == "-" {
		path = "stdin"
	}
	named := make([]error, len(problems))
	for i, err := range problems {
		named[i] = fmt.Errorf("%s: %w", path, err)
	}
	return named
}

// verifyBlob reads blob d whole, checking its digest and its declared size.
// A docker-save layer stored compressed was decompressed and checked against
// its DiffID when the archive was opened, and its size learnt then.
func (r *Reader) verifyBlob(d digest.Digest, declared int64) error {
	if src, ok := r.blobs[d]; ok && src.decompress != compression.Uncompressed && src.size == declared {
		return nil
	}
	rc, size, err := r.OpenBlob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	if size != declared {
		return fmt.Errorf("%s: blob %s: %w: %d bytes stored, %d declared", r.name, d, ErrSizeMismatch, size, declared)
	}
	_, err = io.Copy(io.Discard, rc)
	return err
}
