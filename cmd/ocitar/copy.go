package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/transport"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// copyOptions are skopeo's copy flags that apply to ocitar.
type copyOptions struct {
	all              bool
	format           destFormat
	removeSignatures bool
	preserveDigests  bool
	quiet            bool
	src, dest        endpointOptions
	destCompress     bool
	destCompressFmt  string
	delta            deltaOptions
}

// endpointOptions are the flags given once for the source and once for the
// destination: of a registry, or of an archive on a web server.
type endpointOptions struct {
	tlsVerify bool
	certDir   string
	creds     string
}

// addFlags adds the flags of e, named after prefix ("src-", "dest-", or ""
// for a command with one endpoint), for what ("the source").
func (e *endpointOptions) addFlags(f *pflag.FlagSet, prefix, what string) {
	f.BoolVar(&e.tlsVerify, prefix+"tls-verify", true, "require HTTPS and verify certificates when talking to "+what+" (a registry, or an https:// archive)")
	f.StringVar(&e.certDir, prefix+"cert-dir", "", "use the certificates (*.crt: CAs, *.cert and *.key: client) in `DIR` when talking to "+what)
	if prefix != "" {
		f.StringVar(&e.creds, prefix+"creds", "", "`USER[:PASSWORD]` for "+what+" registry")
	}
}

func newCopyCommand(g *globalOptions) *cobra.Command {
	o := &copyOptions{}
	cmd := &cobra.Command{
		Use:   "copy [flags] SOURCE-IMAGE DESTINATION-IMAGE",
		Short: "Copy an image from one location to another",
		Long: `Copy an image between any two transports of containers/image and oci-tar:.

Examples:
  ocitar copy oci-tar:images.tar:alpine dir:/tmp/alpine
  ocitar copy oci-tar:docker-save.tar oci-archive:/tmp/image.oci.tar
  ocitar copy --all oci-tar:multi.tar:@0 docker://registry.example/t/multi:1
  cat image.tar.gz | ocitar copy oci-tar:- dir:/tmp/out

Progress goes to standard error, never to standard output.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCopy(cmd, g, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "copy every image of a multi-platform index, not only the one for this platform")
	o.format.addFlags(f)
	f.BoolVar(&o.removeSignatures, "remove-signatures", false, "do not copy signatures")
	f.BoolVar(&o.preserveDigests, "preserve-digests", false, "fail rather than change any digest of the image")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	f.BoolVar(&o.destCompress, "dest-compress", false, "compress layers when saving to the destination")
	f.StringVar(&o.destCompressFmt, "dest-compress-format", "", "`FORMAT` to compress layers with: gzip or zstd")
	o.delta.addFlags(f)
	o.src.addFlags(f, "src-", "the source")
	o.dest.addFlags(f, "dest-", "the destination")
	return cmd
}

func runCopy(cmd *cobra.Command, g *globalOptions, o *copyOptions, srcName, destName string) error {
	mimeType, layout, err := o.format.check()
	if err != nil {
		return err
	}
	srcRef, err := g.parseCopySource(srcName)
	if err != nil {
		return fmt.Errorf("invalid source %q: %w", srcName, err)
	}
	compression, err := o.format.archiveCompression()
	if err != nil {
		return err
	}
	ctx, cancel := commandContext()
	defer cancel()
	delta, err := o.delta.delta(ctx, g, g.systemContext())
	if err != nil {
		return err
	}
	destRef, err := g.parseImageWith(destName, transport.Options{Format: layout, Compression: compression, Delta: delta})
	if err != nil {
		return fmt.Errorf("invalid destination %q: %w", destName, err)
	}
	if delta != nil && destRef.Transport().Name() != transport.Transport.Name() {
		return fmt.Errorf("--base and --have apply to oci-tar: destinations, not %s:", destRef.Transport().Name())
	}
	if o.format.ociOnly && destRef.Transport().Name() != transport.Transport.Name() {
		return fmt.Errorf("--dest-oci-only applies to oci-tar: destinations, not %s:", destRef.Transport().Name())
	}
	if o.format.compression != "" && destRef.Transport().Name() != transport.Transport.Name() {
		return fmt.Errorf("--dest-archive-compression applies to oci-tar: destinations, not %s: (for layers, see --dest-compress-format)", destRef.Transport().Name())
	}
	opts, err := o.copyOptions(cmd, g, mimeType)
	if err != nil {
		return err
	}
	policy, err := g.policyContext()
	if err != nil {
		return err
	}
	defer policy.Destroy()
	return copyImage(ctx, policy, srcRef, func(types.ImageSource) (types.ImageReference, error) { return destRef, nil }, opts)
}

func (o *copyOptions) copyOptions(cmd *cobra.Command, g *globalOptions, mimeType string) (*copy.Options, error) {
	srcCtx, err := o.src.systemContext(g, cmd.Flags().Changed("src-tls-verify"))
	if err != nil {
		return nil, err
	}
	destCtx, err := o.dest.systemContext(g, cmd.Flags().Changed("dest-tls-verify"))
	if err != nil {
		return nil, err
	}
	if err := o.setCompression(destCtx); err != nil {
		return nil, err
	}
	return &copy.Options{
		RemoveSignatures:      o.removeSignatures,
		ReportWriter:          progress(cmd, o.quiet),
		SourceCtx:             srcCtx,
		DestinationCtx:        destCtx,
		ForceManifestMIMEType: mimeType,
		ImageListSelection:    listSelection(o.all),
		PreserveDigests:       o.preserveDigests,
	}, nil
}

// copyImage copies one image to the destination dest names for its source.
// The source is opened before the destination is touched, so that a bad
// source leaves nothing behind. A blob of an oci-tar: source that fails the
// copy engine's check is named by its entry in the archive.
func copyImage(ctx context.Context, policy *signature.PolicyContext, srcRef types.ImageReference, dest func(types.ImageSource) (types.ImageReference, error), opts *copy.Options) error {
	src, err := srcRef.NewImageSource(ctx, opts.SourceCtx)
	if err != nil {
		return err
	}
	opened := &openedSource{ImageReference: srcRef, src: src}
	defer opened.closeUnused()
	destRef, err := dest(src)
	if err != nil {
		return err
	}
	_, err = copy.Image(ctx, policy, destRef, opened, opts)
	return transport.SourceProblem(srcRef, opts.SourceCtx, err)
}

// progress is where copy progress goes: stderr, or nowhere with --quiet.
func progress(cmd *cobra.Command, quiet bool) io.Writer {
	if quiet {
		return nil
	}
	return cmd.ErrOrStderr()
}

func listSelection(all bool) copy.ImageListSelection {
	if all {
		return copy.CopyAllImages
	}
	return copy.CopySystemImage
}

// openedSource is a reference whose image source is already open; copy.Image
// takes it over, and closes it, on its first NewImageSource.
type openedSource struct {
	types.ImageReference
	src types.ImageSource
}

func (o *openedSource) NewImageSource(ctx context.Context, sys *types.SystemContext) (types.ImageSource, error) {
	if src := o.src; src != nil {
		o.src = nil
		return src, nil
	}
	return o.ImageReference.NewImageSource(ctx, sys)
}

// closeUnused closes the source if copy.Image failed before taking it.
func (o *openedSource) closeUnused() {
	if o.src != nil {
		o.src.Close()
	}
}

func (e endpointOptions) systemContext(g *globalOptions, tlsVerifySet bool) (*types.SystemContext, error) {
	sys := g.systemContext()
	sys.DockerCertPath = e.certDir
	if tlsVerifySet {
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(!e.tlsVerify)
		sys.DockerDaemonInsecureSkipTLSVerify = !e.tlsVerify
	}
	if e.creds != "" {
		user, password, _ := strings.Cut(e.creds, ":")
		if user == "" {
			return nil, errors.New("invalid credentials: the user name is empty (USER[:PASSWORD])")
		}
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: user, Password: password}
	}
	return sys, nil
}

func (o *copyOptions) setCompression(sys *types.SystemContext) error {
	if o.destCompress {
		sys.DirForceCompress = true
	}
	if o.destCompressFmt != "" {
		algo, err := compression.AlgorithmByName(o.destCompressFmt)
		if err != nil {
			return fmt.Errorf("--dest-compress-format: %w", err)
		}
		sys.CompressionFormat = &algo
	}
	return nil
}

// destFormat is what the destination is written as: skopeo's --format, the
// manifest type, and, for an oci-tar: archive, --dest-oci-only, the layout.
type destFormat struct {
	manifest    string
	ociOnly     bool
	compression string
}

func (f *destFormat) addFlags(flags *pflag.FlagSet) {
	flags.StringVarP(&f.manifest, "format", "f", "", "manifest `TYPE` of the destination: oci, v2s2 or v2s1 (default: keep the source's where possible); an oci-tar: archive is written for docker load and OCI tools alike whatever the type")
	flags.BoolVar(&f.ociOnly, "dest-oci-only", false, "write an oci-tar: destination as an OCI layout alone, with OCI manifests: no docker manifest.json or repositories, so docker load cannot read it")
	flags.StringVar(&f.compression, "dest-archive-compression", "", "compress an oci-tar: destination archive with `FORMAT`: zstd (the seekable format), gzip or none; both are read in place (default: as the file's name says, .tar.zst or .tar.gz; none for standard output)")
}

// archiveCompression is --dest-archive-compression, or the file name's choice.
func (f destFormat) archiveCompression() (archive.Compression, error) {
	if f.compression == "" {
		return archive.CompressionByName, nil
	}
	return archive.ParseCompression(f.compression)
}

// check returns the manifest MIME type to force ("" keeps the source's) and
// the archive layout, or the error of a value or combination that cannot be
// written.
func (f destFormat) check() (string, archive.Format, error) {
	mimeType, err := manifestType(f.manifest)
	if err != nil {
		return "", 0, err
	}
	if !f.ociOnly {
		return mimeType, archive.FormatHybrid, nil
	}
	if mimeType != "" && mimeType != imgspecv1.MediaTypeImageManifest {
		return "", 0, fmt.Errorf("--dest-oci-only writes OCI manifests only, not --format %s", f.manifest)
	}
	return mimeType, archive.FormatOCI, nil
}

// manifestType maps skopeo's --format values to manifest MIME types.
func manifestType(format string) (string, error) {
	switch format {
	case "":
		return "", nil
	case "oci":
		return imgspecv1.MediaTypeImageManifest, nil
	case "v2s2":
		return manifest.DockerV2Schema2MediaType, nil
	case "v2s1":
		return manifest.DockerV2Schema1SignedMediaType, nil
	}
	return "", fmt.Errorf("unknown --format %q: use oci, v2s2 or v2s1 (the manifest type; an oci-tar: archive is hybrid unless --dest-oci-only)", format)
}
