package transport

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
)

// imageDestination writes one image, or a whole index, into an archive.
type imageDestination struct {
	ref   ociTarReference
	a     *ArchiveWriter
	owned bool // a is this destination's alone: Commit commits it, Close aborts it
	top   imgspecv1.Descriptor
	// compress is whether the user asked for compressed layers
	// (--dest-compress-format or --dest-compress).
	compress bool
}

func newImageDestination(ref ociTarReference, sys *types.SystemContext) (*imageDestination, error) {
	if ref.isRemote() {
		return nil, fmt.Errorf("oci-tar:%s: a remote archive is read-only: write a local file, then upload it", ref.StringWithinTransport())
	}
	if ref.stack {
		return nil, fmt.Errorf("oci-tar:%s: a stack is read-only: write one archive", ref.StringWithinTransport())
	}
	name := ref.selector.Name()
	if !ref.selector.IsZero() && name == "" {
		return nil, fmt.Errorf("oci-tar:%s: a destination takes an image name, not %s", ref.StringWithinTransport(), ref.selector)
	}
	if name != "" {
		if err := archive.ValidateRefName(name); err != nil {
			return nil, fmt.Errorf("oci-tar:%s: %w", ref.StringWithinTransport(), err)
		}
	}
	compress := sys != nil && (sys.CompressionFormat != nil || sys.DirForceCompress)
	if ref.writer != nil {
		return &imageDestination{ref: ref, a: ref.writer, compress: compress}, nil
	}
	a, err := NewArchiveWriter(sys, ref.path, ArchiveOptions{Format: ref.opts.Format, Compression: ref.opts.Compression, Reader: ref.opts.Reader, Delta: ref.opts.Delta})
	if err != nil {
		return nil, err
	}
	return &imageDestination{ref: ref, a: a, owned: true, compress: compress}, nil
}

func (d *imageDestination) Reference() types.ImageReference { return d.ref }

// Close removes the archive unless Commit renamed it into place.
func (d *imageDestination) Close() error {
	if d.owned {
		return d.a.Close()
	}
	return nil
}

// SupportedManifestMIMETypes are OCI's and docker schema 2's, or OCI's alone
// for an archive written as an OCI layout alone (archive.FormatOCI), so that
// the copy engine converts docker manifests for it.
func (d *imageDestination) SupportedManifestMIMETypes() []string {
	oci := []string{imgspecv1.MediaTypeImageManifest, imgspecv1.MediaTypeImageIndex}
	if d.a.format == archive.FormatOCI {
		return oci
	}
	return append(oci, manifest.DockerV2Schema2MediaType, manifest.DockerV2ListMediaType)
}

func (d *imageDestination) SupportsSignatures(ctx context.Context) error {
	return errors.New("oci-tar archives cannot store signatures")
}

// DesiredLayerCompression keeps layers as they come, unless the user asks
// for a compression format (which the copy engine then applies to
// uncompressed layers and to layers compressed otherwise) or for compression.
func (d *imageDestination) DesiredLayerCompression() types.LayerCompression {
	if d.compress {
		return types.Compress
	}
	return types.PreserveOriginal
}

func (d *imageDestination) AcceptsForeignLayerURLs() bool        { return true }
func (d *imageDestination) MustMatchRuntimeOS() bool             { return false }
func (d *imageDestination) IgnoresEmbeddedDockerReference() bool { return true }

// HasThreadSafePutBlob is false: blobs are written one after another, in the
// order the copy engine sends them, which keeps the output reproducible.
func (d *imageDestination) HasThreadSafePutBlob() bool { return false }

// PutBlob writes the blob into the archive as it streams. The contract of
// types.ImageDestination says a digest the caller passes MUST match the
// stream, and copy.Image checks it on this very stream (its digestingReader,
// copy/blob.go), failing the last Read otherwise: so a blob of known digest
// and size is hashed once, by the copy engine, and its size checked here.
func (d *imageDestination) PutBlob(ctx context.Context, stream io.Reader, info types.BlobInfo, cache types.BlobInfoCache, isConfig bool) (types.BlobInfo, error) {
	dg, size, err := d.a.w.PutCheckedBlob(stream, info.Digest, info.Size)
	if err != nil {
		return types.BlobInfo{}, fmt.Errorf("oci-tar:%s: %w", d.ref.StringWithinTransport(), err)
	}
	return types.BlobInfo{Digest: dg, Size: size}, nil
}

// TryReusingBlob finds a blob already written, or held by the bases of a
// delta, which is then left out, or in the archive being added to, which is
// then copied across instead of being sent again. The copy engine asks it of
// layers only, never of a config.
func (d *imageDestination) TryReusingBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache, canSubstitute bool) (bool, types.BlobInfo, error) {
	if info.Digest == "" {
		return false, types.BlobInfo{}, nil
	}
	if size, ok := d.a.w.Has(info.Digest); ok {
		return true, types.BlobInfo{Digest: info.Digest, Size: size}, nil
	}
	if size, ok := d.a.w.HeldByBase(info.Digest); ok {
		return true, types.BlobInfo{Digest: info.Digest, Size: size}, nil
	}
	if d.a.old == nil {
		return false, types.BlobInfo{}, nil
	}
	size, err := d.a.w.CopyBlob(d.a.old, info.Digest)
	if errors.Is(err, archive.ErrMissingBlob) {
		return false, types.BlobInfo{}, nil
	}
	if err != nil {
		return false, types.BlobInfo{}, err
	}
	return true, types.BlobInfo{Digest: info.Digest, Size: size}, nil
}

// PutManifest stores a manifest; the one without instanceDigest is the image.
func (d *imageDestination) PutManifest(ctx context.Context, data []byte, instanceDigest *digest.Digest) error {
	desc, err := d.a.w.PutManifest(data, manifest.GuessMIMEType(data))
	if err != nil {
		return fmt.Errorf("oci-tar:%s: %w", d.ref.StringWithinTransport(), err)
	}
	if instanceDigest == nil {
		d.top = desc
	}
	return nil
}

func (d *imageDestination) PutSignatures(ctx context.Context, signatures [][]byte, instanceDigest *digest.Digest) error {
	if len(signatures) > 0 {
		return fmt.Errorf("oci-tar:%s: archives cannot store signatures; use --remove-signatures", d.ref.StringWithinTransport())
	}
	return nil
}

// Commit lists the image; for a destination of its own, it also finishes the
// archive and renames it into place.
func (d *imageDestination) Commit(ctx context.Context, unparsedToplevel types.UnparsedImage) error {
	if d.top.Digest == "" {
		return fmt.Errorf("oci-tar:%s: no manifest was written", d.ref.StringWithinTransport())
	}
	d.a.addImage(d.top, d.ref.selector.Name())
	if d.owned {
		return d.a.Commit()
	}
	return nil
}
