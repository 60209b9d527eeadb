package remote

import (
	"context"
	"net/http"
	"time"
)

// Defaults of Options. DefaultWindow is what reading a header after a large
// entry fetches: the header and the small entries after it, not a layer's
// worth. Indexing the 1 GiB archive of 8 layers moves 9 windows: 576 KiB
// with 64 KiB, 9 MiB with 1 MiB; with 64 KiB, an archive of up to 30 large
// entries is inspected cold within 2 MiB.
const (
	DefaultWindow      = 64 << 10
	DefaultWindows     = 8
	DefaultRetries     = 5
	DefaultBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
	DefaultIdleTimeout = time.Minute
)

// Options are how a Source makes its requests. The zero value takes the
// defaults above.
type Options struct {
	// Client makes the requests; it carries the TLS configuration (the CA
	// pool, or verification turned off). Nil: a client with the TLS
	// settings of the system.
	Client *http.Client

	// Window is how much a small read fetches, from where it starts:
	// the read-ahead. Reads of Window bytes or more fetch what they ask.
	Window int64
	// Windows is how many windows are kept, least recently used dropped.
	Windows int

	// Retries is how many times a request that failed on the connection,
	// a timeout, a 5xx or a 429 is tried again, waiting Backoff, then twice
	// as long each time up to MaxBackoff. A stream that broke off starts
	// again where it stopped; the count restarts once bytes come. Negative:
	// no retry.
	Retries    int
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Sleep waits between attempts; nil waits for real. Tests pass one
	// that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error

	// IdleTimeout bounds the wait for the next bytes of a response, so
	// that a connection that stalls is dropped and resumed.
	IdleTimeout time.Duration

	// Sign, when set, is called on every request just before it is sent,
	// after its headers are set: S3 signs here.
	Sign func(*http.Request) error

	// S3 is how s3:// locations are reached; nil: S3ConfigFromEnv with
	// the process's environment.
	S3 *S3Config
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Windows <= 0 {
		o.Windows = DefaultWindows
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	return o
}

// backoff is the wait before retry number n, from 0.
func (o Options) backoff(n int) time.Duration {
	d := o.Backoff
	for range n {
		if d >= o.MaxBackoff/2 {
			return o.MaxBackoff
		}
		d *= 2
	}
	return min(d, o.MaxBackoff)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
