package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/rootfs"
	"github.com/ocitar/ocitar/transport"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

type unpackOptions struct {
	platform             string
	chown                bool
	maxEntries, maxBytes int64
}

func newUnpackCommand(g *globalOptions) *cobra.Command {
	o := &unpackOptions{}
	cmd := &cobra.Command{
		Use:   "unpack [flags] IMAGE DIR",
		Short: "Unpack an image's layers into a directory as a root filesystem",
		Long: `Apply the layers of an image, from any transport, into DIR as a root
filesystem: files, directories, symlinks, hard links, modes and times, with
OCI whiteouts applied. For a multi-platform index, the image for this
platform, or --platform, is unpacked.

No entry can reach outside DIR: entries named with ".." or an absolute path
are refused, and symlinks are followed as if DIR were "/". Files belong to
the caller (as with umoci unpack --rootless) unless --chown is given and
ocitar runs as root; devices are made only then, empty files otherwise.
Setuid and setgid bits are kept: as root without --chown, a setuid file is
setuid root, so unpack untrusted images as another user or under a parent
directory of mode 0700. Extended attributes are set on Linux: those of the
user namespace always, the others (file capabilities, trusted.*) only with
--chown as root; overlayfs's own and SELinux labels never. One the
filesystem or the privileges refuse is passed over with a warning.

DIR must not exist or be empty. The layers are applied into a new directory
beside it, renamed to DIR once complete: a failed unpack leaves nothing.
A layer can expand a thousandfold: to unpack images you do not trust, bound
what they may write with --max-entries and --max-bytes.

Examples:
  ocitar unpack oci-tar:images.tar:alpine rootfs
  ocitar unpack --platform linux/arm64/v8 oci-tar:multi.tar rootfs
  ocitar unpack docker://registry.example/t/app:1 /srv/app`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUnpack(g, o, args[0], args[1], cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.platform, "platform", "", "unpack the image for `OS/ARCH[/VARIANT]` (default: this machine's, or --override-os/arch/variant)")
	f.BoolVar(&o.chown, "chown", false, "give files the owners the layers name, and make devices (only when running as root)")
	f.Int64Var(&o.maxEntries, "max-entries", 0, "fail, leaving nothing, if the layers together hold more than `N` entries (default: no limit)")
	f.Int64Var(&o.maxBytes, "max-bytes", 0, "fail, leaving nothing, if the files of the layers together hold more than `N` bytes (default: no limit)")
	return cmd
}

func runUnpack(g *globalOptions, o *unpackOptions, name, dir string, stderr io.Writer) error {
	ref, err := g.parseImage(name, archive.FormatHybrid)
	if err != nil {
		return fmt.Errorf("invalid image %q: %w", name, err)
	}
	session, err := g.startImageSession(o.platform)
	if err != nil {
		return err
	}
	defer session.close()
	ctx, sys := session.ctx, session.sys
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return err
	}
	defer src.Close()
	img, err := allowedImage(ctx, sys, session.policy, src)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	config, err := img.OCIConfig(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if o.platform != "" {
		if err := checkPlatform(sys, config.Platform); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	infos := img.LayerInfos()
	opts := rootfs.UnpackOptions{Chown: o.chown, MaxEntries: o.maxEntries, MaxBytes: o.maxBytes,
		Warn: func(err error) { printLine(stderr, "warning: ", err) }}
	if len(config.RootFS.DiffIDs) == len(infos) {
		opts.DiffIDs = config.RootFS.DiffIDs
	}
	return rootfs.Unpack(ctx, transport.NewBlobOpener(ctx, src, infos), layerDescriptors(infos), dir, opts)
}

// allowedImage is the image of src for sys's platform, if the signature policy accepts it.
func allowedImage(ctx context.Context, sys *types.SystemContext, policy *signature.PolicyContext, src types.ImageSource) (types.Image, error) {
	unparsed := image.UnparsedInstance(src, nil)
	if _, err := policy.IsRunningImageAllowed(ctx, unparsed); err != nil {
		return nil, err
	}
	return image.FromUnparsedImage(ctx, sys, unparsed)
}

// choosePlatform makes sys choose images for platform, OS/ARCH[/VARIANT], if set.
func choosePlatform(sys *types.SystemContext, platform string) error {
	if platform == "" {
		return nil
	}
	parts := strings.Split(platform, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("--platform %q: want OS/ARCH[/VARIANT]", platform)
	}
	sys.OSChoice, sys.ArchitectureChoice = parts[0], parts[1]
	if len(parts) == 3 {
		sys.VariantChoice = parts[2]
	}
	return nil
}

// checkPlatform fails unless the image of platform have is the one sys asks
// for: a single image is not chosen by platform, and may be another.
func checkPlatform(sys *types.SystemContext, have imgspecv1.Platform) error {
	want := imgspecv1.Platform{OS: sys.OSChoice, Architecture: sys.ArchitectureChoice, Variant: sys.VariantChoice}
	if have.OS != want.OS || have.Architecture != want.Architecture || (want.Variant != "" && have.Variant != want.Variant) {
		return fmt.Errorf("the image is for %s, not %s", archive.PlatformString(have), archive.PlatformString(want))
	}
	return nil
}

// layerDescriptors are the descriptors of layers as containers/image lists them.
func layerDescriptors(infos []types.BlobInfo) []imgspecv1.Descriptor {
	descs := make([]imgspecv1.Descriptor, len(infos))
	for i, info := range infos {
		descs[i] = imgspecv1.Descriptor{MediaType: info.MediaType, Digest: info.Digest, Size: info.Size}
	}
	return descs
}
