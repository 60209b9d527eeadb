package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/termsafe"
	digest "github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

type inspectOptions struct {
	raw    bool
	config bool
}

// inspectOutput is skopeo inspect's output, less RepoTags (which needs a registry listing).
type inspectOutput struct {
	Name          string `json:",omitempty"`
	Digest        digest.Digest
	Created       *time.Time
	DockerVersion string
	Labels        map[string]string
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Layers        []string
	LayersData    []types.ImageInspectLayer
	Env           []string
}

func newInspectCommand(g *globalOptions) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE",
		Short: "Show an image's metadata, manifest or config",
		Long: `Show an image's metadata as JSON, like skopeo inspect. For a multi-platform
index, the image for this platform (or --override-os/arch/variant) is shown.

  --raw             the manifest (or index) exactly as stored
  --config          the image config, in OCI form
  --config --raw    the image config exactly as stored

Example:
  ocitar inspect oci-tar:images.tar:alpine`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(g, o, args[0], cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.raw, "raw", false, "print the manifest, or with --config the config, as stored")
	cmd.Flags().BoolVar(&o.config, "config", false, "print the image config")
	return cmd
}

func runInspect(g *globalOptions, o *inspectOptions, name string, out io.Writer) error {
	ref, err := g.parseImage(name, archive.FormatHybrid)
	if err != nil {
		return fmt.Errorf("invalid image %q: %w", name, err)
	}
	ctx, cancel := commandContext()
	defer cancel()
	sys := g.systemContext()
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return err
	}
	defer src.Close()

	raw, _, err := src.GetManifest(ctx, nil)
	if err != nil {
		return err
	}
	if o.raw && !o.config {
		_, err = out.Write(raw)
		return err
	}
	img, err := image.FromUnparsedImage(ctx, sys, image.UnparsedInstance(src, nil))
	if err != nil {
		return err
	}
	switch {
	case o.config && o.raw:
		blob, err := img.ConfigBlob(ctx)
		if err != nil {
			return err
		}
		_, err = out.Write(blob)
		return err
	case o.config:
		config, err := img.OCIConfig(ctx)
		if err != nil {
			return err
		}
		return writeJSON(out, config)
	}
	info, err := img.Inspect(ctx)
	if err != nil {
		return err
	}
	d, err := manifest.Digest(raw)
	if err != nil {
		return fmt.Errorf("computing the manifest digest: %w", err)
	}
	result := inspectOutput{
		Name:          transports.ImageName(ref),
		Digest:        d,
		Created:       info.Created,
		DockerVersion: info.DockerVersion,
		Labels:        info.Labels,
		Architecture:  info.Architecture,
		Variant:       info.Variant,
		Os:            info.Os,
		Layers:        info.Layers,
		LayersData:    info.LayersData,
		Env:           info.Env,
	}
	if dockerRef := ref.DockerReference(); dockerRef != nil {
		result.Name = dockerRef.Name()
	}
	return writeJSON(out, result)
}

// writeJSON prints v as indented JSON. The encoder leaves DEL, C1 controls and
// other unprintable runes raw inside strings; each line goes through
// termsafe.String, whose escapes are JSON's, so the output decodes to v.
func writeJSON(out io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	lines := strings.Split(buf.String(), "\n")
	for i, line := range lines {
		lines[i] = termsafe.String(line)
	}
	_, err := io.WriteString(out, strings.Join(lines, "\n"))
	return err
}
