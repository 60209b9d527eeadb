package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/source/remote"
	"go.podman.io/image/v5/directory/explicitfilepath"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/types"
)

// stdinPath is the PATH that stands for standard input.
const stdinPath = "-"

type ociTarReference struct {
	path         string
	resolvedPath string // absolute, links resolved; the policy identity
	stack        bool   // path is base.tar+delta.tar: archives read as one (archive.OpenStack)
	selector     archive.Selector
	opts         Options
	writer       *ArchiveWriter // when set, the archive a destination adds to
}

// Options are how an oci-tar: reference opens archives and, as a
// destination, what it writes. containers/image gives a transport no channel
// for its own settings but the reference and the SystemContext, whose
// BigFilesTemporaryDir, when set, overrides Reader.TempDir.
type Options struct {
	Reader archive.Options // for a source, and for the archive a destination adds to

	// DownloadWithoutRange downloads a remote archive whose server ignores
	// Range once into Reader.Cache, and reads it there, where it would
	// otherwise fail with remote.ErrNoRange.
	DownloadWithoutRange bool

	// Format is the layout a destination writes: archive.FormatHybrid (the
	// zero value) adds docker's manifest.json and repositories, which docker
	// load, podman load and docker-archive: need; archive.FormatOCI writes the
	// OCI layout alone, and makes the destination accept OCI manifests only,
	// so that copy.Image converts docker manifests to OCI ones on the way.
	Format archive.Format

	// Compression is how a destination compresses the archive: by default
	// (archive.CompressionByName) as its file name says, so that
	// oci-tar:FILE.tar.zst writes the zstd seekable format and
	// oci-tar:FILE.tar.gz ocitar's gzip, both read in place; standard
	// output is not compressed unless asked.
	Compression archive.Compression

	// Delta, when set, makes a destination a delta against its bases: the
	// layers they hold are left out, and index.json records the bases
	// (archive.Delta). The copy engine is told such a layer is present.
	Delta *archive.Delta

	// ReadByCopyEngine says that the source is read by copy.Image alone, and
	// lets its GetBlob serve blobs stored as they are in a tar file without
	// checking their digests, since the copy engine checks them itself: it
	// reads every GetBlob stream of a layer through its digestingReader
	// (copy/blob.go, copy/digesting_reader.go), which fails the Read that
	// would return EOF unless the content matches the digest, and a
	// destination must not let anyone read a blob before that EOF (the
	// contract of types.ImageDestination.PutBlob); it reads the config whole
	// and compares its digest before using it (image.FromSource, ConfigBlob in
	// internal/image). This holds for copy.Image of go.podman.io/image/v5 as
	// pinned in go.mod, and for no other caller: leave it false for a source
	// whose blobs anything else reads. Blobs decompressed on the fly (legacy
	// docker-save layers stored compressed) are still checked by the source.
	// After a failed copy, SourceProblem names the archive entry at fault.
	ReadByCopyEngine bool
}

// WithOptions returns ref with opts when it is an oci-tar: reference, and ref
// itself otherwise. References parsed from strings have the zero Options:
// archive's defaults, writing archive.FormatHybrid.
func WithOptions(ref types.ImageReference, opts Options) types.ImageReference {
	r, ok := ref.(ociTarReference)
	if !ok {
		return ref
	}
	r.opts = opts
	return r
}

// ParseReference parses PATH[:SELECTOR], where PATH is a file or an
// https://, http:// or s3:// location. The path ends at the first colon,
// and a location at its first colon after the host.
func ParseReference(ref string) (types.ImageReference, error) {
	if remote.IsRemote(ref) {
		location, sel, err := remote.SplitReference(ref)
		if err != nil {
			return nil, fmt.Errorf("oci-tar: %w", err)
		}
		return NewReference(location, sel)
	}
	path, sel, _ := strings.Cut(ref, ":")
	return NewReference(path, sel)
}

// NewReference returns the reference to the image that selector picks in the
// archive at path; "-" is standard input. path may be an https://, http://
// or s3:// location, read by range requests, or a stack of files,
// base.tar+delta.tar (archive.StackMembers), read as one, later ones winning.
func NewReference(path, selector string) (types.ImageReference, error) {
	if path == "" {
		return nil, errors.New("oci-tar: missing archive path")
	}
	sel, err := archive.ParseSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("oci-tar: %w", err)
	}
	if remote.IsRemote(path) {
		return ociTarReference{path: path, resolvedPath: remote.Redact(path), selector: sel}, nil
	}
	members := archive.StackMembers(path)
	resolved := make([]string, len(members))
	for i, m := range members {
		if resolved[i], err = resolveMember(m, len(members) > 1); err != nil {
			return nil, err
		}
	}
	return ociTarReference{path: path, resolvedPath: strings.Join(resolved, archive.StackSeparator), selector: sel, stack: len(members) > 1}, nil
}

// resolveMember resolves the path of an archive, or of a member of a stack.
func resolveMember(path string, stacked bool) (string, error) {
	switch {
	case path == "":
		return "", errors.New("oci-tar: missing archive path in the stack")
	case strings.Contains(path, ":"):
		return "", fmt.Errorf("oci-tar: path %q contains a colon", path)
	case path == stdinPath && stacked:
		return "", errors.New("oci-tar: standard input cannot be a member of a stack")
	case path == stdinPath:
		return "/dev/stdin", nil
	case stacked && remote.IsRemote(path):
		return "", fmt.Errorf("oci-tar: %s: a stack's members are files", remote.Redact(path))
	}
	resolved, err := explicitfilepath.ResolvePathToFullyExplicit(path)
	if err != nil {
		return "", fmt.Errorf("oci-tar: %w", err)
	}
	return resolved, nil
}

func (ref ociTarReference) Transport() types.ImageTransport { return Transport }

// StringWithinTransport names a remote archive without the userinfo and
// query string of its location, where passwords and presigned signatures
// are: what containers/image logs must never show.
func (ref ociTarReference) StringWithinTransport() string {
	if ref.selector.IsZero() {
		return ref.resolvedOrPath()
	}
	return ref.resolvedOrPath() + ":" + ref.selector.String()
}

func (ref ociTarReference) isRemote() bool { return remote.IsRemote(ref.path) }

func (ref ociTarReference) resolvedOrPath() string {
	if ref.isRemote() {
		return ref.resolvedPath
	}
	return ref.path
}

// DockerReference is the selector when it is a full docker reference with a tag.
func (ref ociTarReference) DockerReference() reference.Named {
	name := ref.selector.Name()
	if !strings.ContainsAny(name, "/:") {
		return nil
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil
	}
	if tagged, ok := named.(reference.NamedTagged); ok {
		return tagged
	}
	return nil
}

// PolicyConfigurationIdentity is the resolved path of the archive, as for oci-archive:.
func (ref ociTarReference) PolicyConfigurationIdentity() string {
	return ref.resolvedPath
}

// PolicyConfigurationNamespaces are the directories above the archive,
// innermost first; a remote archive, and a stack, have none.
func (ref ociTarReference) PolicyConfigurationNamespaces() []string {
	if ref.isRemote() || ref.stack {
		return nil
	}
	var res []string
	for p := ref.resolvedPath; ; {
		i := strings.LastIndex(p, "/")
		if i <= 0 {
			return res
		}
		p = p[:i]
		res = append(res, p)
	}
}

func (ref ociTarReference) NewImage(ctx context.Context, sys *types.SystemContext) (types.ImageCloser, error) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	img, err := image.FromSource(ctx, sys, src)
	if err != nil {
		src.Close()
		return nil, err
	}
	return img, nil
}

func (ref ociTarReference) NewImageSource(ctx context.Context, sys *types.SystemContext) (types.ImageSource, error) {
	return newImageSource(ref, sys)
}

func (ref ociTarReference) NewImageDestination(ctx context.Context, sys *types.SystemContext) (types.ImageDestination, error) {
	return newImageDestination(ref, sys)
}

func (ref ociTarReference) DeleteImage(ctx context.Context, sys *types.SystemContext) error {
	return fmt.Errorf("oci-tar:%s: deleting images from an archive is not supported", ref.StringWithinTransport())
}
