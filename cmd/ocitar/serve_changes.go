package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/source/remote"
	"golang.org/x/sync/singleflight"
)

// revalidateEvery bounds how often requests for what no archive holds make
// serve ask whether its remote objects changed: one ranged GET of a byte
// per object, whatever a client asks for.
const revalidateEvery = time.Second

// changes is what serve knows of the remote objects changing under it.
type changes struct {
	reopening singleflight.Group // by reader: one reopen at a time
	checked   atomic.Int64       // when the objects were last asked about, in Unix nanoseconds
}

// readFailed reopens, in the background, the remote archive of r when a
// read of it failed because its object changed.
func (s *server) readFailed(ctx context.Context, r *archive.Reader, err error) {
	if errors.Is(err, remote.ErrChanged) {
		go s.reopenChanged(ctx, r)
	}
}

// reopenChanged reopens the remote archive that r reads, whose object
// changed, with a new index, and serves it instead, unless r is served no
// more: the many requests that find one object changed reopen it once.
// Requests under way on r finish or fail; r is closed after them. A reopen
// that fails is tried again by the next read that finds the change.
func (s *server) reopenChanged(ctx context.Context, r *archive.Reader) {
	s.changes.reopening.Do(fmt.Sprintf("%p", r), func() (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		i := slices.IndexFunc(s.sources, func(src archiveSource) bool { return src.reader == r })
		if i < 0 {
			return nil, nil
		}
		name := remote.Redact(s.sources[i].path)
		s.log.Printf("%s: %v; reopening it", name, remote.ErrChanged)
		if err := s.replaceSource(ctx, i); err != nil {
			s.log.Printf("reopening the changed object: %v; trying again when a request finds the change", err)
			return nil, nil
		}
		s.log.Printf("%s: reopened: serving the new object", name)
		return nil, nil
	})
}

// replaceSource opens the remote archive of s.sources[i] again and serves
// it in place of the old one. The caller holds s.mu.
func (s *server) replaceSource(ctx context.Context, i int) error {
	next, err := s.openRemote(ctx, s.sources[i])
	if err != nil {
		return err
	}
	sources := slices.Clone(s.sources)
	sources[i] = next
	if err := s.handler.Replace(registryArchives(sources)); err != nil {
		return err
	}
	s.sources = sources
	return nil
}

// revalidate asks whether the remote objects changed, unless it did less
// than revalidateEvery ago, and reopens those that did: a client asking
// for an image the archives lack may be asking for what a new object holds,
// and the old one, its blobs all in the cache, reads nothing from the
// server that would find the change.
func (s *server) revalidate(ctx context.Context) {
	now, last := time.Now().UnixNano(), s.changes.checked.Load()
	if now-last < int64(revalidateEvery) || !s.changes.checked.CompareAndSwap(last, now) {
		return
	}
	s.mu.Lock()
	sources := slices.Clone(s.sources)
	s.mu.Unlock()
	for _, src := range sources {
		if src.remote == nil {
			continue
		}
		if err := src.remote.Check(ctx); errors.Is(err, remote.ErrChanged) {
			s.reopenChanged(ctx, src.reader)
		}
	}
}

// missWatch calls missed after each request answered 404.
type missWatch struct {
	next   http.Handler
	missed func()
}

func (m missWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	m.next.ServeHTTP(rec, r)
	if rec.status == http.StatusNotFound {
		m.missed()
	}
}
