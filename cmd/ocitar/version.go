package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// imageModule is the module path of containers/image.
const imageModule = "go.podman.io/image/v5"

// develVersion is the version of a build that carries no version information.
const develVersion = "(devel)"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ocitar's version and the containers/image version it is built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), versionText())
			return err
		},
	}
}

// versionText is what `ocitar version` and `ocitar --version` print.
func versionText() string {
	info, _ := debug.ReadBuildInfo()
	return formatVersion(info)
}

// formatVersion gives ocitar's version and the containers/image version info
// records, one a line.
func formatVersion(info *debug.BuildInfo) string {
	return fmt.Sprintf("ocitar version %s\ncontainers/image version %s\n", mainVersion(info), depVersion(info, imageModule))
}

// mainVersion is the module's tagged version, else the VCS revision it was
// built from, with "-dirty" when the checkout had changes. Go gives a build
// from an untagged commit a pseudo-version, which holds the revision's prefix:
// the revision is printed whole instead.
func mainVersion(info *debug.BuildInfo) string {
	if info == nil {
		return develVersion
	}
	var revision, dirty string
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			revision = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	v := info.Main.Version
	tagged := v != "" && v != develVersion && (len(revision) < 12 || !strings.Contains(v, revision[:12]))
	switch {
	case tagged:
		return v
	case revision != "":
		return revision + dirty
	}
	return develVersion
}

// depVersion is the version of module path the binary is built with,
// following a replace directive.
func depVersion(info *debug.BuildInfo, path string) string {
	if info == nil {
		return "unknown"
	}
	for _, m := range info.Deps {
		if m.Path != path {
			continue
		}
		if r := m.Replace; r != nil {
			if r.Version == "" {
				return r.Path + " (replacing " + m.Version + ")"
			}
			return r.Version + " (replacing " + m.Version + ")"
		}
		return m.Version
	}
	return "unknown"
}
