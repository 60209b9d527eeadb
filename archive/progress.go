package archive

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ocitar/ocitar/source"
)

// progressInterval is how often a pass over a whole archive says how far it is.
const progressInterval = 2 * time.Second

// progressReader reads a Source from its start as a stream, telling
// Options.Notice how far it is every progressInterval, until
// Options.Context is done.
type progressReader struct {
	r     io.Reader
	name  string
	verb  string
	opts  Options
	next  time.Time
	done  int64
	total int64
}

// newProgressReader reads src whole, as one stream when it is a
// source.Streamer (one request of a remote object).
func newProgressReader(src source.Source, verb string, opts Options) (io.ReadCloser, error) {
	r, err := wholeStream(src, opts)
	if err != nil {
		return nil, err
	}
	p := &progressReader{r: r, name: src.Name(), verb: verb, opts: opts, next: time.Now().Add(progressInterval), total: src.Size()}
	return stackedCloser{ReadCloser: io.NopCloser(p), under: r}, nil
}

func wholeStream(src source.Source, opts Options) (io.ReadCloser, error) {
	if s, ok := src.(source.Streamer); ok {
		ctx := opts.Context
		if ctx == nil {
			ctx = context.Background()
		}
		return s.OpenRange(ctx, 0, src.Size())
	}
	return io.NopCloser(io.NewSectionReader(src, 0, src.Size())), nil
}

func (p *progressReader) Read(b []byte) (int, error) {
	if p.opts.Context != nil {
		if err := p.opts.Context.Err(); err != nil {
			return 0, err
		}
	}
	n, err := p.r.Read(b)
	p.done += int64(n)
	if now := time.Now(); p.opts.Notice != nil && now.After(p.next) {
		p.opts.notice("%s: %s, %d%% of %s read", p.name, p.verb, 100*p.done/max(p.total, 1), humanSize(p.total))
		p.next = now.Add(progressInterval)
	}
	return n, err
}

// humanSize is n in MiB or GiB, or in bytes below one MiB.
func humanSize(n int64) string {
	switch {
	case n < 1<<20:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
