package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/registry"
)

// progressInterval is how often decompression progress is printed.
const progressInterval = 2 * time.Second

// openAll opens the archives of s.sources, reusing those of old whose file
// is unchanged. On an error it closes what it opened.
func (s *server) openAll(ctx context.Context, old []archiveSource) ([]archiveSource, []registry.Archive, error) {
	next := make([]archiveSource, len(s.sources))
	archives := make([]registry.Archive, len(s.sources))
	for i, src := range s.sources {
		if old == nil || !unchanged(old[i]) {
			var err error
			if src, err = s.open(ctx, src); err != nil {
				closeOpened(next[:i], old)
				return nil, nil, err
			}
		}
		next[i] = src
		archives[i] = registry.Archive{Reader: src.reader, Repo: src.repo}
	}
	return next, archives, nil
}

// unchanged reports whether src's path still names the file it read.
func unchanged(src archiveSource) bool {
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

// open opens the archive or layout directory of src.
func (s *server) open(ctx context.Context, src archiveSource) (archiveSource, error) {
	fi, err := os.Stat(src.path)
	if err != nil {
		return src, err
	}
	src.file = fi
	if fi.IsDir() {
		src.reader, err = archive.OpenDir(src.path, s.g.archiveOptions())
		return src, err
	}
	f, err := os.Open(src.path)
	if err != nil {
		return src, err
	}
	defer f.Close()
	format, err := compression.DetectAt(f, 0, fi.Size())
	switch {
	case err != nil:
		return src, fmt.Errorf("%s: %w", src.path, err)
	case format != compression.Uncompressed:
		src.reader, err = s.spool(ctx, f, fi.Size())
	default:
		src.reader, err = archive.Open(src.path, s.g.archiveOptions())
	}
	return src, err
}

// spool decompresses f once into a temporary file, showing its progress.
func (s *server) spool(ctx context.Context, f *os.File, size int64) (*archive.Reader, error) {
	started := time.Now()
	progress := &countingReader{ctx: ctx, r: f}
	done := make(chan struct{})
	if !s.o.quiet {
		go s.showProgress(f.Name(), progress, size, done)
	}
	r, err := archive.OpenStream(progress, f.Name(), s.g.archiveOptions())
	close(done)
	if err == nil && !s.o.quiet {
		s.log.Printf("%s: decompressed into %s in %s", f.Name(), tempDir(s.g.tmpDir), time.Since(started).Round(time.Millisecond))
	}
	return r, err
}

func (s *server) showProgress(name string, progress *countingReader, size int64, done <-chan struct{}) {
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			s.log.Printf("%s: decompressing, %d%% of %s read", name, 100*progress.n.Load()/max(size, 1), humanBytes(size))
		}
	}
}

func tempDir(dir string) string {
	if dir == "" {
		return os.TempDir()
	}
	return dir
}

// humanBytes is n in MiB, or in bytes below one MiB.
func humanBytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// countingReader counts what is read through it and fails once ctx is done.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
