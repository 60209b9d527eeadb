package rootfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/internal/hashing"
	"github.com/ocitar/ocitar/internal/pending"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// OpenLayer returns layer as its uncompressed tar stream. Its compression
// (gzip, zstd or none) is detected from the blob's first bytes, whatever its
// media type says. Reading to EOF fails unless the blob matches the layer's
// digest; errors name the layer.
func OpenLayer(b archive.BlobOpener, layer ocispec.Descriptor) (io.ReadCloser, error) {
	return openLayer(b, layer, "layer "+layer.Digest.String())
}

func openLayer(b archive.BlobOpener, layer ocispec.Descriptor, what string) (*layerReader, error) {
	blob, _, err := b.OpenBlob(layer.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	compressed := bufio.NewReader(blob)
	head, err := compressed.Peek(compression.HeadSize)
	if err != nil && err != io.EOF {
		blob.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	format := compression.Detect(head)
	stream, err := compression.Decompress(compressed, format)
	if err != nil {
		blob.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &layerReader{stream: stream, compressed: compressed, blob: blob, what: what, format: format}, nil
}

// openChecked returns layer's uncompressed stream, read under ctx. Reading it
// to EOF fails unless the blob matches the layer's digest and, when diffID is
// set, the stream matches diffID; errors of the stream's own check begin
// "uncompressed". An uncompressed blob whose digest is its DiffID is hashed
// once, by the blob's check.
func openChecked(ctx context.Context, b archive.BlobOpener, layer ocispec.Descriptor, diffID digest.Digest, what string) (io.ReadCloser, error) {
	l, err := openLayer(b, layer, what)
	if err != nil {
		return nil, err
	}
	stream := struct {
		io.Reader
		io.Closer
	}{contextReader{ctx, l}, l}
	if diffID == "" || (l.format == compression.Uncompressed && diffID == layer.Digest) {
		return stream, nil
	}
	return hashing.NewVerified(stream, "uncompressed", diffID, -1)
}

// layerReader is a layer's uncompressed stream. At its end it reads the rest
// of the compressed blob, so that the blob's digest is checked even when the
// decompressor stops before the blob's last byte.
type layerReader struct {
	stream     io.ReadCloser
	compressed io.Reader
	blob       io.Closer
	what       string
	format     compression.Format // the blob's
	err        error
}

func (l *layerReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.stream.Read(p)
	switch {
	case err == io.EOF:
		l.err = io.EOF
		if _, derr := io.Copy(io.Discard, l.compressed); derr != nil {
			l.err = fmt.Errorf("%s: %w", l.what, derr)
		}
	case err != nil:
		l.err = fmt.Errorf("%s: %w", l.what, err)
	}
	return n, l.err
}

func (l *layerReader) Close() error {
	l.stream.Close()
	return l.blob.Close()
}

// ExtractOptions tune ExtractLayers.
type ExtractOptions struct {
	// Concurrency bounds how many layers are extracted at once; 0 means GOMAXPROCS.
	Concurrency int
	// Reverify reads again every layer file already in the directory and
	// replaces the ones that fail their DiffID. Otherwise a file present under
	// its DiffID's name is trusted, as containerd trusts its content store:
	// ExtractLayers only ever puts verified files there.
	Reverify bool
}

func (o ExtractOptions) concurrency() int {
	if o.Concurrency <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Concurrency
}

// ExtractLayers writes each layer uncompressed into dir as
// ALGORITHM/ENCODED of its DiffID (dir/sha256/<hex>), the layers of one image
// given with the DiffIDs of its config, and returns the files opened for
// reading, in the order of layers. Layers already there are not extracted
// again (see ExtractOptions.Reverify). Several layers are extracted at once.
// Each file is written beside its final name, verified against its DiffID,
// flushed and renamed: a layer that fails, for instance with an error wrapping
// archive.ErrDigestMismatch, leaves no file behind.
func ExtractLayers(ctx context.Context, b archive.BlobOpener, layers []ocispec.Descriptor, diffIDs []digest.Digest, dir string, opts ExtractOptions) ([]*os.File, error) {
	if err := checkDiffIDs(layers, diffIDs); err != nil {
		return nil, fmt.Errorf("extracting layers: %w", err)
	}
	for _, d := range diffIDs {
		if err := os.MkdirAll(filepath.Join(dir, d.Algorithm().String()), 0o755); err != nil {
			return nil, fmt.Errorf("extracting layers: %w", err)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	files := make([]*os.File, len(layers))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.concurrency(), len(layers)) {
		wg.Go(func() {
			for i := range jobs {
				f, err := extractLayer(ctx, b, layers[i], diffIDs[i], layerName(i, layers), dir, opts.Reverify)
				if err != nil {
					cancel(err)
				}
				files[i] = f
			}
		})
	}
feed:
	for i := range layers {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		closeFiles(files)
		return nil, context.Cause(ctx)
	}
	return files, nil
}

// checkDiffIDs checks that diffIDs name one valid digest per layer.
func checkDiffIDs(layers []ocispec.Descriptor, diffIDs []digest.Digest) error {
	if len(diffIDs) != len(layers) {
		return fmt.Errorf("%w: %d layers and %d DiffIDs", archive.ErrInvalidMetadata, len(layers), len(diffIDs))
	}
	for i, d := range diffIDs {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("%w: DiffID of %s: %w", archive.ErrInvalidMetadata, layerName(i, layers), err)
		}
	}
	return nil
}

// layerName names layer i of layers in errors.
func layerName(i int, layers []ocispec.Descriptor) string {
	return fmt.Sprintf("layer %d of %d (%s)", i+1, len(layers), layers[i].Digest)
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// extractLayer returns the file of layer in dir, writing it unless it is there.
func extractLayer(ctx context.Context, b archive.BlobOpener, layer ocispec.Descriptor, diffID digest.Digest, what, dir string, reverify bool) (*os.File, error) {
	path := filepath.Join(dir, diffID.Algorithm().String(), diffID.Encoded())
	f, err := openPresent(path, diffID, reverify)
	if f != nil || err != nil {
		return f, err
	}
	if err := writeLayer(ctx, b, layer, diffID, what, path); err != nil {
		return nil, err
	}
	f, err = os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return f, nil
}

// openPresent opens the layer file at path if there is one, and, when
// reverify is set, its content matches diffID; otherwise it returns nil.
func openPresent(path string, diffID digest.Digest, reverify bool) (*os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil || !reverify {
		return f, err
	}
	h := hashing.NewReader(f, diffID.Algorithm())
	if _, err := io.Copy(io.Discard, h); err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if h.Digest() != diffID {
		f.Close()
		return nil, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return f, nil
}

// writeLayer writes layer, uncompressed and verified against diffID, to path.
func writeLayer(ctx context.Context, b archive.BlobOpener, layer ocispec.Descriptor, diffID digest.Digest, what, path string) error {
	rc, err := openChecked(ctx, b, layer, diffID, what)
	if err != nil {
		return err
	}
	defer rc.Close()
	p, err := pending.Create(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := io.Copy(p, rc); err != nil {
		p.Abort()
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := p.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// contextReader stops reading once its context is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}
