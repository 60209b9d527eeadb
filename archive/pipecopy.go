package archive

import (
	"errors"
	"io"
)

// copyChunk is the size of the buffers a blob is copied with: large enough
// that syscalls and the per-read work of the streams it comes through (the
// copy engine's digest and progress bar) cost little.
const copyChunk = 1 << 20

// copyBuffers is how many chunks are in flight: one being read, one being
// written, one ready.
const copyBuffers = 3

// pipeCopy writes up to size bytes of r through write and returns how many it
// wrote. It reads on another goroutine, so that reading r (and whatever hashes
// it on the way) and writing run on two cores. It returns only once that
// goroutine has stopped reading r.
func pipeCopy(write func([]byte) error, r io.Reader, size int64) (int64, error) {
	type chunk struct {
		data []byte
		err  error
	}
	full := make(chan chunk, copyBuffers)
	free := make(chan []byte, copyBuffers)
	for range copyBuffers {
		free <- make([]byte, copyChunk)
	}
	stop := make(chan struct{})
	go func() {
		defer close(full)
		lr := io.LimitReader(r, size)
		for {
			var buf []byte
			select {
			case <-stop:
				return
			case buf = <-free:
			}
			n, err := io.ReadFull(lr, buf)
			if n > 0 {
				full <- chunk{data: buf[:n]}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					full <- chunk{err: err}
				}
				return
			}
		}
	}()
	var written int64
	var failed error
	for c := range full {
		switch {
		case failed != nil:
		case c.err != nil:
			failed = c.err
		default:
			if failed = write(c.data); failed != nil {
				close(stop)
				continue
			}
			written += int64(len(c.data))
			free <- c.data[:cap(c.data)]
		}
	}
	return written, failed
}
