package archive_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/cache"
	"github.com/ocitar/ocitar/source/remote"
)

// TestRemoteBlobsKept: the blobs of a remote archive are fetched once into
// the cache, however many readers ask at once, and a second Reader over the
// same cache fetches none; its open makes one request, the one that learns
// the object's validator.
func TestRemoteBlobsKept(t *testing.T) {
	data := twoImageTar(t)
	var large atomic.Int64 // requests of 4 MiB or more: the layer, not a window
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		requests.Add(1)
		rec := &countingWriter{ResponseWriter: w}
		http.ServeContent(rec, req, "a.tar", time.Unix(0, 0), bytes.NewReader(data))
		if rec.n >= 4<<20 {
			large.Add(1)
		}
	}))
	defer srv.Close()
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		requests.Store(0)
		src, err := remote.Open(context.Background(), srv.URL+"/a.tar", remote.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := archive.OpenSource(src, archive.Options{Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		if got := requests.Load(); round == 1 && got != 1 {
			t.Errorf("a warm open made %d requests, want 1", got)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for _, img := range r.Images() {
					for _, b := range img.Blobs {
						if err := drainBlob(r, b.Digest); err != nil {
							t.Errorf("round %d: blob %s: %v", round, b.Digest, err)
						}
					}
				}
			})
		}
		wg.Wait()
		r.Close()
		if got := large.Load(); got != 1 {
			t.Errorf("after round %d: %d requests of the 9 MiB layer, want 1", round, got)
		}
	}
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}
