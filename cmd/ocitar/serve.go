package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/registry"
	"github.com/ocitar/ocitar/source/remote"
	"github.com/spf13/cobra"
)

// Limits of the server: a few hundred slow or idle clients cannot starve the others.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	shutdownGrace     = 30 * time.Second
)

type serveOptions struct {
	remote   endpointOptions
	upstream upstreamOptions
	record   recordOptions
	addr     string
	tlsCert  string
	tlsKey   string
	htpasswd string
	quiet    bool
	verify   bool
}

func newServeCommand(g *globalOptions) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve [flags] [REPO=]PATH... | serve --upstream [REGISTRY=]URL [--record OUT] [[REPO=]PATH...]",
		Short: "Serve image tars read-only as a registry (OCI Distribution API v2)",
		Long: `Serve the images of archives and OCI layout directories read-only over the
OCI Distribution API v2, in place: docker, podman, containerd, skopeo, crane
and regctl pull from them by name, or use the server as a mirror.

PATH is an OCI-layout, docker-save or hybrid tar, plain or compressed
(.tar.gz, .tar.zst, read in place; see "ocitar recompress --help"), an OCI
layout directory, or such a tar on a web server or in an object store
(https://HOST/PATH, http://HOST/PATH, s3://BUCKET/KEY; a presigned URL
too), read in place by range requests. An image named REGISTRY/PATH:TAG is served as repository
REGISTRY/PATH (when REGISTRY has no port) and as PATH, for mirror clients;
containerd's ?ns=REGISTRY picks the registry. docker.io names are normalized
(alpine is library/alpine). Images named by a tag alone are served in
repository REPO, by default the file name up to its first dot
(bundle.oci.tar is bundle). A name two images claim is reported and not
served.

The server listens on 127.0.0.1 only, unless --addr says otherwise. It prints
"ocitar serve: serving on URL" to standard error once ready, then a line per
request unless --quiet. SIGHUP reopens archives replaced since (downloads
under way finish from the old file); SIGINT and SIGTERM stop it. A remote
archive whose object changes is reopened by itself, with a line in the log:
when a read finds the change (the reads under way fail), or when a client
asks for what the archives lack (serve then asks the server, at most once a
second).

Pull-through and recording: with --upstream, what the archives lack is
fetched from an upstream registry, once however many clients ask, and
streamed to the client as it arrives and is checked. Only the upstreams
given are contacted: one named REGISTRY serves requests with ?ns=REGISTRY
(containerd's hosts.toml mirrors) and names REGISTRY/PATH; one without a
name serves the other names (docker's registry-mirrors, a registries.conf
mirror). --record OUT writes everything served to OUT under the name it
was asked by, with each index whole and the platforms pulled, and, unless
--record-referrers=false, the referrers and cosign tags of each manifest:
the bundle of what a real run pulled. OUT is written whole or not at all,
as a snapshot on SIGHUP and when serve stops (a second SIGINT or SIGTERM
stops it at once); a kill leaves the last snapshot. OUT.lock.json beside it (OUT's name with .lock.json added) lists
name -> digest. Credentials for the upstreams come from --upstream-creds,
--authfile, or the files skopeo reads (auth.json, docker's config.json).

Examples:
  ocitar serve --addr 127.0.0.1:5000 images.tar
  docker pull 127.0.0.1:5000/example.com/app:1

  ocitar serve --addr 127.0.0.1:5000 --upstream docker.io=https://registry-1.docker.io --record pulled.tar
  # containerd: /etc/containerd/certs.d/docker.io/hosts.toml
  #   [host."http://127.0.0.1:5000"]
  #     capabilities = ["pull", "resolve"]`,
		Args: func(cmd *cobra.Command, args []string) error { return o.serveArgs(args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(g, o, args, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:5000", "listen on `HOST:PORT` (port 0 picks a free one); 0.0.0.0 or [::] serves other machines too")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with the certificate in `FILE` (PEM; needs --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the private key of --tls-cert, in `FILE` (PEM)")
	f.StringVar(&o.htpasswd, "htpasswd", "", "require Basic authentication by a user of `FILE` (bcrypt entries, htpasswd -B)")
	f.BoolVar(&o.quiet, "quiet", false, "log no request, and no progress of a first pass over a compressed archive")
	f.BoolVar(&o.verify, "verify", false, "hash every blob before serving, rather than each on its first request")
	o.remote.addFlags(f, "", "the upstreams and remote archives")
	o.upstream.addFlags(f)
	o.record.addFlags(f)
	return cmd
}

// server is a running ocitar serve.
type server struct {
	g        *globalOptions
	o        *serveOptions
	log      *log.Logger
	handler  *registry.Handler
	http     *http.Server
	listener net.Listener

	mu      sync.Mutex // held while sources change
	sources []archiveSource
	changes changes

	work     context.Context // the upstreams' fetches and the recording's, which outlive SIGTERM's grace
	recorder *serveRecording // nil without --record
}

func runServe(g *globalOptions, o *serveOptions, args []string, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second SIGINT or SIGTERM stops at once
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	work, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	s := &server{g: g, o: o, log: log.New(escapedLog{stderr}, "ocitar serve: ", 0), work: work}
	if err := s.configure(args); err != nil {
		return err
	}
	if err := s.start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped by SIGINT or SIGTERM while opening the archives
		}
		return err
	}
	defer s.handler.Close()
	return s.run(ctx, hup)
}

// configure checks the flags and reads the files they name.
func (s *server) configure(args []string) error {
	s.http = &http.Server{
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          s.log,
	}
	if (s.o.tlsCert == "") != (s.o.tlsKey == "") {
		return errors.New("serve: --tls-cert and --tls-key go together")
	}
	if s.o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(s.o.tlsCert, s.o.tlsKey)
		if err != nil {
			return fmt.Errorf("serve: loading --tls-cert %s and --tls-key %s: %w", s.o.tlsCert, s.o.tlsKey, err)
		}
		s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	for _, arg := range args {
		src, err := parseArchiveSource(arg)
		if err != nil {
			return err
		}
		s.sources = append(s.sources, src)
	}
	return nil
}

// start opens the archives and listens.
func (s *server) start(ctx context.Context) error {
	opts := registry.Options{
		Log:        func(line string) { s.log.Print(line) },
		ReadFailed: func(r *archive.Reader, err error) { s.readFailed(ctx, r, err) },
	}
	if s.o.htpasswd != "" {
		users, err := registry.LoadHtpasswd(s.o.htpasswd)
		if err != nil {
			return fmt.Errorf("serve: --htpasswd: %w", err)
		}
		opts.Users = users
	}
	if err := s.pullThrough(&opts); err != nil {
		return err
	}
	opened, archives, err := s.openAll(ctx, nil)
	if err != nil {
		return err
	}
	s.sources = opened
	if s.handler, err = registry.New(archives, opts); err != nil {
		return err
	}
	if s.o.record.path != "" {
		if s.recorder, err = s.o.record.openRecorder(s.work, s.handler, s.log); err != nil {
			s.handler.Close()
			return err
		}
	}
	if s.o.verify {
		s.verify(ctx)
	}
	if s.listener, err = net.Listen("tcp", s.o.addr); err != nil {
		s.handler.Close()
		return fmt.Errorf("serve: %w", err)
	}
	s.http.Handler = missWatch{next: s.handler, missed: func() { go s.revalidate(ctx) }}
	if !s.o.quiet {
		s.http.Handler = accessLog{next: s.http.Handler, log: s.log}
	}
	scheme := "http"
	if s.http.TLSConfig != nil {
		scheme = "https"
	}
	s.log.Printf("serving on %s://%s", scheme, s.listener.Addr())
	return nil
}

func (s *server) verify(ctx context.Context) {
	started := time.Now()
	bad := s.handler.Verify(ctx)
	s.log.Printf("verified every blob in %s: %s failing its digest, which will not be served", time.Since(started).Round(time.Millisecond), count(bad, "blob"))
}

// run serves until SIGINT or SIGTERM, reopening archives on SIGHUP, then
// lets responses under way finish for a grace period.
func (s *server) run(ctx context.Context, hup <-chan os.Signal) error {
	served := make(chan error, 1)
	go func() {
		if s.http.TLSConfig != nil {
			served <- s.http.ServeTLS(s.listener, "", "")
		} else {
			served <- s.http.Serve(s.listener)
		}
	}()
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case <-hup:
			s.reload(ctx)
			if s.recorder != nil {
				s.recorder.snapshot(s.work)
			}
		case <-ctx.Done():
			grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			if err := s.http.Shutdown(grace); err != nil {
				s.http.Close()
			}
			if s.recorder != nil {
				s.log.Printf("stopping: a second SIGINT or SIGTERM stops at once, without this last snapshot")
				s.recorder.finish(s.work)
			}
			return nil
		}
	}
}

// reload reopens the archives whose file changed; on an error it keeps
// serving the archives it has.
func (s *server) reload(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	opened, archives, err := s.openAll(ctx, s.sources)
	if err == nil {
		err = s.handler.Replace(archives)
	}
	if err != nil {
		s.log.Printf("reload: %v; still serving the archives opened before", err)
		return
	}
	s.sources = opened
	s.log.Printf("reloaded %s", count(len(archives), "archive"))
}

// archiveSource is an archive given on the command line and, once opened,
// its reader and the file it read, or the remote object.
type archiveSource struct {
	path   string
	repo   string
	reader *archive.Reader
	file   os.FileInfo
	remote *remote.Source
}

// parseArchiveSource parses [REPO=]PATH.
func parseArchiveSource(arg string) (archiveSource, error) {
	repo, path, ok := strings.Cut(arg, "=")
	if !ok || repo == "" || strings.Contains(repo, ":") {
		return archiveSource{path: arg, repo: registry.BareRepository(remote.Redact(arg))}, nil
	}
	if !registry.ValidRepository(repo) {
		return archiveSource{}, fmt.Errorf("serve: %s: %q is not a repository name (lower case letters, digits, separators . _ -, and /)", arg, repo)
	}
	return archiveSource{path: path, repo: repo}, nil
}
