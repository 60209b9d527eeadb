package archive

import (
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
	r     *io.SectionReader
	name  string
	verb  string
	opts  Options
	next  time.Time
	total int64
}

func newProgressReader(src source.Source, verb string, opts Options) io.Reader {
	return &progressReader{
		r: io.NewSectionReader(src, 0, src.Size()), name: src.Name(), verb: verb, opts: opts,
		next: time.Now().Add(progressInterval), total: src.Size(),
	}
}

func (p *progressReader) Read(b []byte) (int, error) {
	if p.opts.Context != nil {
		if err := p.opts.Context.Err(); err != nil {
			return 0, err
		}
	}
	n, err := p.r.Read(b)
	if now := time.Now(); p.opts.Notice != nil && now.After(p.next) {
		done, _ := p.r.Seek(0, io.SeekCurrent)
		p.opts.notice("%s: %s, %d%% of %s read", p.name, p.verb, 100*done/max(p.total, 1), humanSize(p.total))
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
