package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/pending"
	"github.com/spf13/cobra"
)

type recompressOptions struct {
	compression string
	quiet       bool
}

func newRecompressCommand(g *globalOptions) *cobra.Command {
	o := &recompressOptions{}
	cmd := &cobra.Command{
		Use:   "recompress [flags] IN OUT",
		Short: "Compress an image tar again, byte for byte the same tar, in a form read in place",
		Long: `Compress the tar IN holds (plain, gzip or zstd) into OUT so that every tar
entry starts a frame of its own: the uncompressed tar is the same, byte for
byte, and ocitar reads and serves OUT in place, without a first pass.

OUT.tar.zst is the zstd seekable format, which zstd -d, tar --zstd and
podman load read as any zstd; OUT.tar.gz is gzip with a table of its
members, which gzip -d, tar -z and docker load read as any gzip. --compress
chooses for another name, or for standard output ("-"). OUT is replaced only
once complete and on disk.

A k3s or rke2 bundle (zstd -T0 --long=25 writes one frame, which cannot be
entered) made seekable:
  ocitar recompress k3s-airgap-images-amd64.tar.zst k3s-images.seekable.tar.zst
  zstd -dc k3s-images.seekable.tar.zst | sha256sum   # the same as the original's`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRecompress(g, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.compression, "compress", "", "`FORMAT` of OUT: zstd, gzip or none (default: as OUT's name says; zstd for standard output)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print no progress")
	return cmd
}

func runRecompress(g *globalOptions, o *recompressOptions, inPath, outPath string) error {
	c, err := o.compressionFor(outPath)
	if err != nil {
		return err
	}
	in, size, err := openInput(inPath)
	if err != nil {
		return err
	}
	defer in.Close()
	ctx, cancel := commandContext()
	defer cancel()
	progress := &countingReader{ctx: ctx, r: in}
	if !o.quiet && size > 0 {
		done := make(chan struct{})
		defer close(done)
		go showProgress(g.notice, inPath, progress, size, done)
	}
	if outPath == "-" {
		return recompressTo(os.Stdout, progress, inPath, c, g)
	}
	if err := refuseSameFile(inPath, outPath); err != nil {
		return err
	}
	out, err := pending.Create(outPath)
	if err != nil {
		return err
	}
	defer out.Abort()
	if err := recompressTo(out, progress, inPath, c, g); err != nil {
		return err
	}
	return out.Commit()
}

func recompressTo(out io.Writer, in io.Reader, inPath string, c archive.Compression, g *globalOptions) error {
	if err := archive.Recompress(in, out, c, g.archiveOptions()); err != nil {
		return fmt.Errorf("%s: %w", inPath, err)
	}
	return nil
}

// compressionFor is --compress, or what outPath's name asks for.
func (o *recompressOptions) compressionFor(outPath string) (archive.Compression, error) {
	if o.compression != "" {
		return archive.ParseCompression(o.compression)
	}
	if outPath == "-" {
		return archive.Zstd, nil
	}
	return archive.CompressionByName.For(outPath), nil
}

// openInput opens path, "-" for standard input, and returns its size when
// it is a regular file, 0 otherwise.
func openInput(path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return f, 0, nil
	}
	return f, st.Size(), nil
}

// refuseSameFile refuses to write OUT over IN, which is read while OUT is written.
func refuseSameFile(inPath, outPath string) error {
	a, err := os.Stat(inPath)
	if err != nil {
		return nil
	}
	if b, err := os.Stat(outPath); err == nil && os.SameFile(a, b) {
		return fmt.Errorf("%s: OUT is IN; give another name", outPath)
	}
	return nil
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

// progressEvery is how often a long command says how far it is.
const progressEvery = 2 * time.Second

func showProgress(notice func(string), name string, progress *countingReader, size int64, done <-chan struct{}) {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			notice(fmt.Sprintf("%s: %d%% of %d MiB read", name, 100*progress.n.Load()/max(size, 1), size>>20))
		}
	}
}
