package main

import (
	"context"
	"io"
	"strings"

	"github.com/ocitar/ocitar/inventory"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/types"
)

func newInventoryCommand(g *globalOptions) *cobra.Command {
	var e endpointOptions
	cmd := &cobra.Command{
		Use:   "inventory [flags] SOURCE... > have.json",
		Short: "List the blobs a site holds, to write deltas against it",
		Long: `Write to standard output the inventory of what the sources hold: for each,
its kind, name and identity, and the digest and size of each blob it holds.
ocitar save --have and ocitar copy --have write a delta against it, which
holds only the layers no source holds, without the sources at hand.

A SOURCE is an archive (a file, https:// or s3://), an OCI layout directory,
or a registry's repository, docker://HOST/REPO, of which every tag is
listed (docker://HOST/REPO:TAG lists one). Archives are read, not hashed.
Nothing is written unless every source is read.

Example:
  ocitar inventory january.tar docker://registry.site/app > have.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sys, err := e.systemContext(g, cmd.Flags().Changed("tls-verify"))
			if err != nil {
				return err
			}
			return runInventory(g, sys, args, cmd.OutOrStdout())
		},
	}
	e.addFlags(cmd.Flags(), "", "a registry or a remote archive")
	return cmd
}

func runInventory(g *globalOptions, sys *types.SystemContext, locations []string, out io.Writer) error {
	ctx, cancel := commandContext()
	defer cancel()
	var sources []inventory.Source
	for _, location := range locations {
		s, err := inventorySources(ctx, g, sys, location)
		if err != nil {
			return err
		}
		sources = append(sources, s...)
	}
	return inventory.New(sources...).Write(out)
}

// inventorySources are the sources location names: a registry's
// repository, or the archives or directory openSources opens.
func inventorySources(ctx context.Context, g *globalOptions, sys *types.SystemContext, location string) ([]inventory.Source, error) {
	if strings.HasPrefix(location, dockerPrefix) {
		s, err := registrySource(ctx, sys, location)
		if err != nil {
			return nil, err
		}
		return []inventory.Source{s}, nil
	}
	readers, err := openSources(ctx, g, sys, location)
	if err != nil {
		return nil, err
	}
	defer closeReaders(readers)
	sources := make([]inventory.Source, 0, len(readers))
	for _, r := range readers {
		s, err := inventory.FromReader(r)
		if err != nil {
			return nil, err
		}
		sources = append(sources, s)
	}
	return sources, nil
}
