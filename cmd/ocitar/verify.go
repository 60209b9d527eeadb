package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/ocitar/ocitar/internal/termsafe"
	"github.com/spf13/cobra"
)

// problems are the findings of a verify, printed one per line.
type problems []error

func (p problems) Error() string {
	lines := make([]string, len(p))
	for i, err := range p {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

func newVerifyCommand(g *globalOptions) *cobra.Command {
	var remoteOpts endpointOptions
	cmd := &cobra.Command{
		Use:   "verify [flags] ARCHIVE",
		Short: "Check every digest, size and reference of an image tar",
		Long: `Check an OCI-layout, docker-save or hybrid tar: its tar structure (entry
names, links, duplicates, sizes), every reference from index.json and
manifest.json to manifests, configs and layers, and the digest and size of
every blob they reference, each read whole. Every problem found is printed,
one per line, to standard error, and the exit status is 1; a sound archive
gets one summary line on standard output. ARCHIVE is a path, "-" for
standard input, or an https://, http:// or s3:// location, optionally
written with the prefix oci-tar:; the whole archive is verified, so no image
name follows it.

Example:
  ocitar verify images.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(g, &remoteOpts, args[0], cmd.OutOrStdout())
		},
	}
	remoteOpts.addFlags(cmd.Flags(), "", "an https:// archive")
	return cmd
}

func runVerify(g *globalOptions, e *endpointOptions, path string, out io.Writer) error {
	path = strings.TrimPrefix(path, "oci-tar:")
	rep, name, err := e.verify(g, path)
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		return problems(rep.Problems)
	}
	_, err = fmt.Fprintf(out, "%s: %s, %s, all verified\n", termsafe.String(name), count(rep.Images, "image"), count(rep.Blobs, "blob"))
	return err
}

// count is "1 image", "2 images".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
