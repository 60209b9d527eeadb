package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/docker/go-units"
	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/cache"
	"github.com/ocitar/ocitar/transport"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage/pkg/configfile"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	debug          bool
	policyPath     string
	insecurePolicy bool
	tmpDir         string
	overrideArch   string
	overrideOS     string
	overrideVar    string
	maxRatio       int64
	cacheDir       string
	cacheMax       string
	download       bool
	cache          *cache.Cache
	stderr         io.Writer
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "ocitar",
		Short: "Copy, inspect and list container images, with image tars read in place",
		Long: `ocitar copies, inspects, lists and saves container images. It speaks
skopeo's language and adds the oci-tar: transport, which reads OCI-layout,
docker-save and docker >= 25 archives in place and writes them by streaming:
nothing is unpacked to, or assembled in, a temporary directory.

  oci-tar:PATH[:SELECTOR]   PATH "-" is standard input or output.
    As a source, SELECTOR picks an image: a name (ref.name,
    io.containerd.image.name or a docker RepoTag; "alpine" finds
    docker.io/library/alpine:latest), @N by position from 0, or @sha256:...
    by manifest digest. Without SELECTOR the archive must hold one image.
    As a destination, SELECTOR is the name to store. Images already in the
    file are kept (one of the same name is replaced), and the file is
    replaced only when the copy is complete. The output loads with docker
    load too; --dest-oci-only writes the OCI layout alone.`,
		Version:       versionText(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.debug {
				logrus.SetLevel(logrus.DebugLevel)
			}
			g.stderr = cmd.ErrOrStderr()
			return g.openCache()
		},
	}
	f := root.PersistentFlags()
	f.BoolVar(&g.debug, "debug", false, "print debugging information")
	f.StringVar(&g.policyPath, "policy", "", "signature policy `FILE` (default: the system policy.json, else accept anything)")
	f.BoolVar(&g.insecurePolicy, "insecure-policy", false, "accept any image, ignoring the signature policy")
	f.StringVar(&g.tmpDir, "tmpdir", "", "`DIR` for temporary files: oci-tar: spools compressed or piped archives there (default TMPDIR), other transports their big files (default /var/tmp)")
	f.StringVar(&g.overrideArch, "override-arch", "", "use `ARCH` instead of the machine's architecture to choose images")
	f.StringVar(&g.overrideOS, "override-os", "", "use `OS` instead of the running OS to choose images")
	f.StringVar(&g.overrideVar, "override-variant", "", "use `VARIANT` instead of the machine's architecture variant to choose images")
	f.StringVar(&g.cacheDir, "cache-dir", "", "`DIR` that keeps the indexes of compressed archives, and the files of those that cannot be read in place, between runs; processes may share it (default: ocitar in the user's cache directory, $XDG_CACHE_HOME or ~/.cache)")
	f.StringVar(&g.cacheMax, "cache-max", "10GiB", "bound the --cache-dir to `SIZE` (such as 500MiB or 20GB), evicting what was used least recently")
	f.BoolVar(&g.download, "download-if-no-range", false, "download a remote archive whose server ignores Range requests once into --cache-dir, and read it there, instead of failing")
	f.Int64Var(&g.maxRatio, "max-decompression-ratio", archive.DefaultMaxSpoolRatio, "refuse a compressed archive, or docker-save layer, that expands to more than `N` times its size (a decompression bomb)")
	root.SetVersionTemplate("{{.Version}}")
	root.AddCommand(newServeCommand(g))
	root.AddCommand(newCopyCommand(g), newInspectCommand(g), newInventoryCommand(g), newLsCommand(g), newSaveCommand(g), newVerifyCommand(g), newUnpackCommand(g), newRecompressCommand(g), newVersionCommand())
	return root
}

// parseImage parses an image name. An oci-tar: reference opens archives with
// the global options and, as a destination, writes format.
func (g *globalOptions) parseImage(name string, format archive.Format) (types.ImageReference, error) {
	return g.parseImageWith(name, transport.Options{Format: format})
}

// parseCopySource parses the name of a source that copy.Image alone reads:
// an oci-tar: source leaves the check of its blobs to the copy engine.
func (g *globalOptions) parseCopySource(name string) (types.ImageReference, error) {
	return g.parseImageWith(name, transport.Options{ReadByCopyEngine: true})
}

func (g *globalOptions) parseImageWith(name string, opts transport.Options) (types.ImageReference, error) {
	ref, err := alltransports.ParseImageName(name)
	if err != nil {
		return nil, err
	}
	opts.Reader, opts.DownloadWithoutRange = g.archiveOptions(), g.download
	return transport.WithOptions(ref, opts), nil
}

// transportOptions are the options an archive named on the command line
// is opened with.
func (g *globalOptions) transportOptions() transport.Options {
	return transport.Options{Reader: g.archiveOptions(), DownloadWithoutRange: g.download}
}

// archiveOptions are the options oci-tar: archives are opened with. What a
// first pass over a compressed archive does and how far it is goes to
// standard error.
func (g *globalOptions) archiveOptions() archive.Options {
	opts := archive.Options{TempDir: g.tmpDir, MaxSpoolRatio: g.maxRatio, Notice: g.notice}
	if g.cache != nil {
		opts.Cache = g.cache
	}
	return opts
}

func (g *globalOptions) notice(msg string) {
	printLine(g.stderr, "", errors.New(msg))
}

// openCache opens --cache-dir within --cache-max. Without --cache-dir, a
// default directory that cannot be opened (a home that is read-only or
// missing) leaves ocitar without a cache, which only compressed archives
// miss: a foreign gzip is then indexed at each open, and a zstd that cannot
// be entered is spooled to --tmpdir.
func (g *globalOptions) openCache() error {
	size, err := units.RAMInBytes(g.cacheMax)
	if err != nil || size <= 0 {
		return fmt.Errorf("--cache-max %q: not a size such as 500MiB or 20GB", g.cacheMax)
	}
	dir := g.cacheDir
	if dir == "" {
		if dir, err = cache.DefaultDir(); err == nil {
			g.cache, err = cache.Open(dir, size)
		}
		if err != nil {
			logrus.Debugf("no cache directory (give --cache-dir): %v", err)
		}
		return nil
	}
	if g.cache, err = cache.Open(dir, size); err != nil {
		return fmt.Errorf("--cache-dir %s: %w", dir, err)
	}
	return nil
}

// systemContext is the context shared by sources and destinations.
func (g *globalOptions) systemContext() *types.SystemContext {
	return &types.SystemContext{
		BigFilesTemporaryDir:    g.tmpDir,
		ArchitectureChoice:      g.overrideArch,
		OSChoice:                g.overrideOS,
		VariantChoice:           g.overrideVar,
		DockerRegistryUserAgent: "ocitar",
		SignaturePolicyPath:     g.policyPath,
	}
}

// policyContext is the signature policy to copy under: --insecure-policy,
// --policy FILE, the system's policy.json, or, with none of these, accept anything.
func (g *globalOptions) policyContext() (*signature.PolicyContext, error) {
	var policy *signature.Policy
	var err error
	switch {
	case g.insecurePolicy:
		policy = acceptAnything()
	case g.policyPath != "":
		policy, err = signature.NewPolicyFromFile(g.policyPath)
	default:
		policy, err = signature.DefaultPolicy(nil)
		if errors.Is(err, configfile.ErrConfigFileNotFound) {
			logrus.Debug("no policy.json found; using the built-in policy that accepts any image")
			policy, err = acceptAnything(), nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading the signature policy: %w", err)
	}
	return signature.NewPolicyContext(policy)
}

func acceptAnything() *signature.Policy {
	return &signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}}
}

// commandContext is cancelled by SIGINT and SIGTERM.
func commandContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// imageSession is what a command that reads images for a platform needs: the
// system context choosing that platform, the signature policy, and a context
// cancelled by SIGINT and SIGTERM.
type imageSession struct {
	sys    *types.SystemContext
	policy *signature.PolicyContext
	ctx    context.Context
	cancel context.CancelFunc
}

// startImageSession starts a session for platform, OS/ARCH[/VARIANT] or "" for
// the --override flags' choice. close ends it.
func (g *globalOptions) startImageSession(platform string) (*imageSession, error) {
	sys := g.systemContext()
	if err := choosePlatform(sys, platform); err != nil {
		return nil, err
	}
	policy, err := g.policyContext()
	if err != nil {
		return nil, err
	}
	ctx, cancel := commandContext()
	return &imageSession{sys: sys, policy: policy, ctx: ctx, cancel: cancel}, nil
}

func (s *imageSession) close() {
	s.cancel()
	s.policy.Destroy()
}
