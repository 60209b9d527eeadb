package main

import (
	"context"
	"os"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/registry"
	"github.com/ocitar/ocitar/source/remote"
	"github.com/ocitar/ocitar/transport"
)

// openAll opens the archives of s.sources, reusing those of old whose file
// is unchanged. On an error it closes what it opened.
func (s *server) openAll(ctx context.Context, old []archiveSource) ([]archiveSource, []registry.Archive, error) {
	next := make([]archiveSource, len(s.sources))
	for i, src := range s.sources {
		if old == nil || !unchanged(old[i]) {
			var err error
			if src, err = s.open(ctx, src); err != nil {
				closeOpened(next[:i], old)
				return nil, nil, err
			}
		}
		next[i] = src
	}
	return next, registryArchives(next), nil
}

// registryArchives are the archives of sources, for the handler.
func registryArchives(sources []archiveSource) []registry.Archive {
	archives := make([]registry.Archive, len(sources))
	for i, src := range sources {
		archives[i] = registry.Archive{Reader: src.reader, Repo: src.repo}
	}
	return archives
}

// openRemote opens the archive at a remote location, or a stack of files
// (base.tar+delta.tar), through the transport. It has no file: a SIGHUP
// opens it again, and so does a read that finds a remote object changed
// (reopenChanged).
func (s *server) openRemote(ctx context.Context, src archiveSource) (archiveSource, error) {
	sys, err := s.o.remote.systemContext(s.g, true)
	if err != nil {
		return src, err
	}
	opts := s.g.transportOptions()
	opts.Reader.Context = ctx
	opts.Reader.Notice = s.notice()
	if !remote.IsRemote(src.path) {
		src.reader, err = transport.OpenArchive(ctx, src.path, opts, sys)
		return src, err
	}
	src.reader, src.remote, err = transport.OpenRemoteArchive(ctx, src.path, opts, sys)
	return src, err
}

// notice is where archives' notices go: the log, unless --quiet.
func (s *server) notice() func(string) {
	if s.o.quiet {
		return func(string) {} // nil would let the transport log them
	}
	return func(msg string) { s.log.Print(msg) }
}

// unchanged reports whether src's path still names the file it read.
func unchanged(src archiveSource) bool {
	if src.file == nil {
		return false
	}
	fi, err := os.Stat(src.path)
	return err == nil && !fi.IsDir() && os.SameFile(fi, src.file) &&
		fi.Size() == src.file.Size() && fi.ModTime().Equal(src.file.ModTime())
}

// closeOpened closes the readers of opened that old does not hold.
func closeOpened(opened, old []archiveSource) {
	for i, src := range opened {
		if old == nil || old[i].reader != src.reader {
			src.reader.Close()
		}
	}
}

// open opens the archive or layout directory of src. A first pass over a
// compressed archive (an index, or its files into the cache) is logged with
// its progress, unless --quiet, and stops on SIGINT or SIGTERM.
func (s *server) open(ctx context.Context, src archiveSource) (archiveSource, error) {
	if remote.IsRemote(src.path) || len(archive.StackMembers(src.path)) > 1 {
		return s.openRemote(ctx, src)
	}
	fi, err := os.Stat(src.path)
	if err != nil {
		return src, err
	}
	src.file = fi
	opts := s.g.archiveOptions()
	opts.Context = ctx
	opts.Notice = s.notice()
	if fi.IsDir() {
		src.reader, err = archive.OpenDir(src.path, opts)
		return src, err
	}
	started := time.Now()
	src.reader, err = archive.Open(src.path, opts)
	if took := time.Since(started); err == nil && took > progressEvery && !s.o.quiet {
		s.log.Printf("%s: opened in %s", src.path, took.Round(time.Millisecond))
	}
	return src, err
}
