package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/internal/compression"
	digest "github.com/opencontainers/go-digest"
)

// Files of an ingested stream that are not blobs are held in memory up to
// these sizes, each and in all; larger ones go to the sink like blobs.
const (
	maxHeldFile  = 1 << 20
	maxHeldTotal = 64 << 20
)

// BlobSink is where Ingest puts the blobs of a stream and from where the
// Reader it returns serves them, as store.LayoutStore does.
type BlobSink interface {
	BlobOpener
	// PutBlob stores the blob read from r, verified against d and size where
	// known ("" and -1 when not), and returns its digest.
	PutBlob(r io.Reader, d digest.Digest, size int64) (digest.Digest, error)
}

// Ingest reads an OCI layout, docker-save or hybrid tar, possibly compressed,
// from in once, as a stream, and returns a Reader of its images whose blobs
// sink serves. A blob whose entry name carries its digest goes to sink,
// verified, as it is read; so does a docker-save layer, uncompressed and named
// by its digest; other small files are held in memory. Nothing is spooled.
func Ingest(in io.Reader, sink BlobSink, opts Options) (*Reader, error) {
	g := &ingester{
		sink: sink, opts: opts,
		idx:    &tarIndex{entries: map[string]*Entry{}, duplicates: map[string]bool{}},
		held:   map[string][]byte{},
		stored: map[string]digest.Digest{},
	}
	if err := g.read(in); err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	return newFilesReader(ingestedFiles{indexedNames: indexedNames{g.idx}, held: g.held, stored: g.stored, sink: sink}, "stream", opts)
}

// ingester holds what it read of a stream.
type ingester struct {
	sink   BlobSink
	opts   Options
	idx    *tarIndex
	held   map[string][]byte        // small files, by entry name
	heldN  int64                    // their bytes
	stored map[string]digest.Digest // files put to the sink, by entry name
}

func (g *ingester) read(in io.Reader) error {
	stream, _, err := compression.OpenDecompressed(in, 1<<20, g.opts.maxSpoolRatio())
	if err != nil {
		return err
	}
	defer stream.Close()
	tr := tar.NewReader(stream)
	return eachHeader(tr, g.opts, func(hdr *tar.Header) error { return g.add(hdr, tr) })
}

// add indexes one entry and keeps its content: in the sink or in memory.
func (g *ingester) add(hdr *tar.Header, content io.Reader) error {
	e, err := newEntry(hdr, 0)
	if err != nil || e == nil {
		return err
	}
	if err := g.idx.add(e); err != nil || e.Type != tar.TypeReg {
		return err
	}
	delete(g.held, e.Name)
	if d, ok := layoutBlobDigest(e.Name); ok {
		return g.put(e.Name, content, d, e.Size)
	}
	if e.Size <= maxHeldFile && g.heldN+e.Size <= maxHeldTotal {
		data, err := io.ReadAll(content)
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.Name, err)
		}
		g.held[e.Name], g.heldN = data, g.heldN+e.Size
		return nil
	}
	return g.putFile(e.Name, content)
}

// put stores a blob of known digest.
func (g *ingester) put(name string, content io.Reader, d digest.Digest, size int64) error {
	got, err := g.sink.PutBlob(content, d, size)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	g.stored[name] = got
	return nil
}

// putFile stores a file that may be a docker-save layer, uncompressed.
func (g *ingester) putFile(name string, content io.Reader) error {
	stream, _, err := compression.OpenDecompressed(content, 4096, g.opts.maxSpoolRatio())
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer stream.Close()
	return g.put(name, stream, "", -1)
}

// ingestedFiles are the files of an ingested stream: held in memory, or in the sink by digest.
type ingestedFiles struct {
	indexedNames
	held   map[string][]byte
	stored map[string]digest.Digest
	sink   BlobSink
}

func (f ingestedFiles) open(name string) (io.ReadCloser, int64, error) {
	e, err := f.idx.resolve(name, false)
	if err != nil {
		return nil, 0, err
	}
	if data, ok := f.held[e.Name]; ok {
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
	return f.sink.OpenBlob(f.stored[e.Name])
}

func (f ingestedFiles) readFile(name string, limit int64) ([]byte, error) {
	e, err := f.resolveUnique(name, limit)
	if err != nil {
		return nil, err
	}
	rc, size, err := f.open(e.Name)
	if err != nil {
		return nil, err
	}
	return readAllLimited(rc, name, size, limit)
}
