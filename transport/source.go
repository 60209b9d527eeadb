package transport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/types"
)

// imageSource serves one image of an archive opened in place.
type imageSource struct {
	ref   ociTarReference
	r     *archive.Reader
	image archive.Image
}

func newImageSource(ref ociTarReference, sys *types.SystemContext) (*imageSource, error) {
	r, err := OpenArchive(context.Background(), ref.path, ref.opts, sys)
	if err != nil {
		return nil, err
	}
	img, err := r.Select(ref.selector)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &imageSource{ref: ref, r: r, image: img}, nil
}

// ImageNames are the names an oci-tar: source's image has in its archive
// (ref.name, io.containerd.image.name, RepoTags); nil for other sources.
func ImageNames(src types.ImageSource) []string {
	if s, ok := src.(*imageSource); ok {
		return s.image.Names
	}
	return nil
}

// readerOptions are opts, with the SystemContext's temporary directory if it
// names one, and the defaults of withDefaults.
func readerOptions(opts archive.Options, sys *types.SystemContext) archive.Options {
	if sys != nil && sys.BigFilesTemporaryDir != "" {
		opts.TempDir = sys.BigFilesTemporaryDir
	}
	return withDefaults(opts)
}

func (s *imageSource) Reference() types.ImageReference { return s.ref }

func (s *imageSource) Close() error { return s.r.Close() }

// GetManifest returns the selected image's manifest or index, or the instance
// instanceDigest names.
func (s *imageSource) GetManifest(ctx context.Context, instanceDigest *digest.Digest) ([]byte, string, error) {
	d := s.image.Descriptor.Digest
	if instanceDigest != nil {
		d = *instanceDigest
	}
	return s.r.Manifest(d)
}

// GetBlob streams a blob straight from the archive; it fails at EOF unless the
// content matches its digest. With Options.ReadByCopyEngine, a blob stored as
// it is in a tar file is served unchecked, for the copy engine to check.
func (s *imageSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	if s.ref.opts.ReadByCopyEngine {
		// A blob without a section (decompressed on the fly, or missing) takes
		// the verified path below, which also reports it missing.
		if sec, err := s.r.BlobSection(info.Digest); err == nil {
			return io.NopCloser(largeReads(sec)), sec.Size(), nil
		}
	}
	return s.r.OpenBlob(info.Digest)
}

// readChunk is how much a large blob's section is read at a time, whatever
// the caller reads in (the copy engine: 32 KiB), as archive.Reader.OpenBlob does.
const readChunk = 1 << 20

// largeReads reads sec in chunks of readChunk when it is larger than one.
func largeReads(sec *io.SectionReader) io.Reader {
	if sec.Size() < readChunk {
		return sec
	}
	return bufio.NewReaderSize(sec, readChunk)
}

// HasThreadSafeGetBlob is true: blobs are independent sections of the file.
func (s *imageSource) HasThreadSafeGetBlob() bool { return true }

// GetSignatures returns none: archives carry no signatures.
func (s *imageSource) GetSignatures(ctx context.Context, instanceDigest *digest.Digest) ([][]byte, error) {
	return nil, nil
}

// LayerInfosForCopy is nil: the manifest lists the blobs as they are served.
func (s *imageSource) LayerInfosForCopy(ctx context.Context, instanceDigest *digest.Digest) ([]types.BlobInfo, error) {
	return nil, nil
}

// engineMismatch matches the error copy.Image returns when a blob it reads
// fails its digest (copy/digesting_reader.go), and captures the digest.
var engineMismatch = regexp.MustCompile(`Digest did not match, expected (\S+), got`)

// SourceProblem explains err, returned by a copy.Image that read ref. When ref
// is an oci-tar: file read with Options.ReadByCopyEngine and the copy engine
// found a blob that does not match its digest, it reads that blob again from
// the archive, checked, and returns the archive's own error, which names the
// file and the entry, followed by err. Otherwise, and for an archive read from
// standard input, which cannot be read again, it returns err.
func SourceProblem(ref types.ImageReference, sys *types.SystemContext, err error) error {
	r, ok := ref.(ociTarReference)
	if err == nil || !ok || !r.opts.ReadByCopyEngine || r.path == stdinPath {
		return err
	}
	m := engineMismatch.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	d, perr := digest.Parse(m[1])
	if perr != nil {
		return err
	}
	if verr := checkBlob(r, sys, d); verr != nil {
		return fmt.Errorf("%w; the copy engine reported: %v", verr, err)
	}
	return err
}

// checkBlob reads blob d of ref's archive whole, checked against its digest.
func checkBlob(ref ociTarReference, sys *types.SystemContext, d digest.Digest) error {
	r, err := OpenArchive(context.Background(), ref.path, ref.opts, sys)
	if err != nil {
		return err
	}
	defer r.Close()
	rc, _, err := r.OpenBlob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}
