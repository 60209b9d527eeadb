package main

import (
	"github.com/ocitar/ocitar/archive"
	"github.com/spf13/cobra"
)

func newFlattenCommand(g *globalOptions) *cobra.Command {
	o := &saveOptions{all: true}
	cmd := &cobra.Command{
		Use:   "flatten -o OUT.tar STACK",
		Short: "Write the images of a stack (base.tar+delta.tar) into one ordinary archive",
		Long: `Write every image a stack shows (base.tar+delta1.tar+...: later archives
win) into one ordinary archive, every platform of each, each blob stored once
and streamed from the member that holds it. The images keep their names;
the output is what ocitar save -a writes of the same images, byte for byte.
OUT.tar is replaced only once complete; "-" writes to standard output.

Example:
  ocitar flatten -o site.tar january.tar+february.delta.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			images, err := stackImages(g, args[0])
			if err != nil {
				return err
			}
			return runSave(cmd, g, o, images)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "the archive to write (required)")
	o.format.addFlags(f)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// stackImages are the oci-tar: references of the images the archive or
// stack at path shows, in order, each by its first name.
func stackImages(g *globalOptions, path string) ([]string, error) {
	r, err := (&endpointOptions{}).openArchive(g, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var refs []string
	for _, img := range r.Images() {
		sel := "@" + img.Descriptor.Digest.String()
		if len(img.Names) > 0 {
			sel = img.Names[0]
		}
		refs = append(refs, "oci-tar:"+path+":"+sel)
	}
	if len(refs) == 0 {
		return nil, archive.ErrNoMatch
	}
	return refs, nil
}
