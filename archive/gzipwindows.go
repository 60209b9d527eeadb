package archive

import (
	"errors"
	"fmt"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"
)

// errSpoolAborted is what a windowSpool's staging reads when the pass gave up.
var errSpoolAborted = errors.New("the pass stopped")

// windowSpool stages the windows of a gzip index in the cache as a pass
// makes them, a blob the index names: neither the pass nor the Reader it
// opens holds them in memory.
type windowSpool struct {
	cache Cache
	pw    *io.PipeWriter
	done  chan struct{}

	// Set once done is closed.
	digest digest.Digest
	size   int64
	added  bool
	err    error // of the staging, not of the pass
}

// spoolWindows starts staging a blob in c.
func spoolWindows(c Cache) *windowSpool {
	pr, pw := io.Pipe()
	s := &windowSpool{cache: c, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.digest, s.size, s.added, s.err = c.Stage(pr)
		if errors.Is(s.err, errSpoolAborted) {
			s.err = nil
		}
		// Writes after a failed staging fail with its error instead of waiting.
		pr.CloseWithError(s.err)
	}()
	return s
}

func (s *windowSpool) Write(p []byte) (int, error) { return s.pw.Write(p) }

// finish ends the blob, which must hold size bytes, and opens it.
func (s *windowSpool) finish(size int64) (*os.File, error) {
	s.pw.Close()
	<-s.done
	if s.err != nil {
		return nil, fmt.Errorf("staging the windows of its index in the cache: %w", s.err)
	}
	if s.size != size {
		s.undo()
		return nil, fmt.Errorf("the windows of its index: %d bytes staged, %d written", s.size, size)
	}
	f, _, err := s.cache.Open(s.digest)
	if err != nil {
		s.undo()
		return nil, fmt.Errorf("the windows of its index: %w", err)
	}
	return f, nil
}

// abort stops the staging of a pass that failed before finish: nothing is
// added. After finish it does nothing.
func (s *windowSpool) abort() {
	s.pw.CloseWithError(errSpoolAborted)
	<-s.done
}

// undo removes the blob finish staged, unless the cache held it before.
func (s *windowSpool) undo() {
	if s.added {
		s.cache.Remove(s.digest)
	}
}
