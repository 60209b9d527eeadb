package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/termsafe"
	"github.com/spf13/cobra"
)

type lsOptions struct {
	json   bool
	remote endpointOptions
}

// lsImage is one image as ocitar ls --json prints it.
type lsImage struct {
	Position  int      `json:"position"`
	Names     []string `json:"names"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Platforms []string `json:"platforms"`
	Size      int64    `json:"size"`
}

func newLsCommand(g *globalOptions) *cobra.Command {
	o := &lsOptions{}
	cmd := &cobra.Command{
		Use:   "ls [flags] ARCHIVE",
		Short: "List the images of an image tar",
		Long: `List every image of an OCI-layout, docker-save or hybrid tar: position,
names, manifest digest, media type, platforms and size (manifests, configs and
layers it references, each counted once). ARCHIVE is a path, "-" for standard
input, an https://, http:// or s3:// location (read by range requests), or
an oci-tar: reference.

Examples:
  ocitar ls images.tar
  ocitar ls https://files.example/bundles/images.tar.zst
  ocitar ls s3://bundles/2026-12/images.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(g, o, args[0], cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	o.remote.addFlags(cmd.Flags(), "", "an https:// archive")
	return cmd
}

func runLs(g *globalOptions, o *lsOptions, path string, out io.Writer) error {
	r, err := o.remote.openArchive(g, strings.TrimPrefix(path, "oci-tar:"))
	if err != nil {
		return err
	}
	defer r.Close()
	images := lsImages(r.Images())
	if o.json {
		return writeJSON(out, images)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POS\tNAMES\tDIGEST\tMEDIA TYPE\tPLATFORMS\tSIZE")
	for _, img := range images {
		fmt.Fprintf(tw, "@%d\t%s\t%s\t%s\t%s\t%s\n", img.Position, orNone(img.Names), termsafe.String(img.Digest),
			termsafe.String(img.MediaType), orNone(img.Platforms), humanSize(img.Size))
	}
	return tw.Flush()
}

func lsImages(images []archive.Image) []lsImage {
	out := make([]lsImage, len(images))
	for i, img := range images {
		out[i] = lsImage{
			Position:  img.Position,
			Names:     append([]string{}, img.Names...),
			Digest:    img.Descriptor.Digest.String(),
			MediaType: img.Descriptor.MediaType,
			Platforms: []string{},
			Size:      img.Size,
		}
		for _, p := range img.Platforms {
			out[i].Platforms = append(out[i].Platforms, archive.PlatformString(p))
		}
	}
	return out
}

// orNone is list joined by commas and escaped, or "-" when it is empty.
func orNone(list []string) string {
	if len(list) == 0 {
		return "-"
	}
	return termsafe.String(strings.Join(list, ","))
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
