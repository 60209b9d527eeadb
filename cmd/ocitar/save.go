package main

import (
	"fmt"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/transport"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/types"
)

type saveOptions struct {
	output   string
	format   destFormat
	all      bool
	platform string
	quiet    bool
	delta    deltaOptions
}

func newSaveCommand(g *globalOptions) *cobra.Command {
	o := &saveOptions{}
	cmd := &cobra.Command{
		Use:   "save -o OUT.tar [flags] IMAGE...",
		Short: "Save several images, from any transports, into one archive",
		Long: `Save several images into one archive in one run; blobs the images share are
stored once. Each image is named after its source's docker reference, when it
has one. OUT.tar is replaced only once every image is written; "-" writes to
standard output.

The archive is an OCI layout that docker load, podman load and skopeo's
docker-archive: read as well, whatever the manifest type --format chooses;
--dest-oci-only leaves docker's files out.

With --base or --have, the archive is a delta: it holds every manifest,
index and config of the images, and only the layers the bases lack; its
index.json records the bases (the annotation io.github.ocitar.delta.bases).
Bases are read, not hashed: --verify-bases reads their blobs too.

Examples:
  ocitar save -o images.tar docker://registry.example/a:1 oci-tar:other.tar:b
  ocitar save --base january.tar -o february.delta.tar docker://registry.example/a:2`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSave(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "the archive to write (required)")
	o.format.addFlags(f)
	f.BoolVarP(&o.all, "all", "a", false, "save every image of multi-platform indexes")
	f.StringVar(&o.platform, "platform", "", "save the image for `OS/ARCH[/VARIANT]` from indexes (default: this machine's)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	o.delta.addFlags(f)
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func runSave(cmd *cobra.Command, g *globalOptions, o *saveOptions, names []string) error {
	mimeType, layout, err := o.format.check()
	if err != nil {
		return err
	}
	compression, err := o.format.archiveCompression()
	if err != nil {
		return err
	}
	session, err := g.startImageSession(o.platform)
	if err != nil {
		return err
	}
	defer session.close()
	sys := session.sys
	delta, err := o.delta.delta(session.ctx, g, sys)
	if err != nil {
		return err
	}

	a, err := transport.NewArchiveWriter(sys, o.output, transport.ArchiveOptions{Format: layout, Compression: compression, Replace: true, Delta: delta})
	if err != nil {
		return err
	}
	defer a.Close()
	for _, name := range names {
		srcRef, err := g.parseCopySource(name)
		if err != nil {
			return fmt.Errorf("invalid image %q: %w", name, err)
		}
		dest := func(src types.ImageSource) (types.ImageReference, error) {
			return a.NewReference(sourceName(srcRef, src))
		}
		opts := &copy.Options{SourceCtx: sys, DestinationCtx: sys, ReportWriter: progress(cmd, o.quiet), ImageListSelection: listSelection(o.all), ForceManifestMIMEType: mimeType}
		if err := copyImage(session.ctx, session.policy, srcRef, dest, opts); err != nil {
			return fmt.Errorf("saving %s: %w", name, err)
		}
	}
	return a.Commit()
}

// sourceName is the name to store an image under: its source's docker
// reference, or the first full reference an oci-tar: source names it by.
func sourceName(ref types.ImageReference, src types.ImageSource) string {
	if named := ref.DockerReference(); named != nil {
		return named.String()
	}
	for _, name := range transport.ImageNames(src) {
		if tag, ok := archive.RepoTag(name); ok {
			return tag
		}
	}
	return ""
}
