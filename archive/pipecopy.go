package archive

import (
	"io"
	"sync"
)

// copyChunk is the size of the buffers a blob is copied with: large enough
// that syscalls and the per-read work of the streams it comes through (the
// copy engine's digest and progress bar) cost little.
const copyChunk = 1 << 20

// copyBuffers is how many chunks are in flight: one being read, one being
// written, one ready.
const copyBuffers = 3

var chunkPool = sync.Pool{New: func() any { return new([copyChunk]byte) }}

// pipeCopy writes up to size bytes of r through write and returns how many it
// wrote. Above a chunk it reads on another goroutine, so that reading r (and
// whatever hashes it on the way) and writing run on two cores; it returns only
// once that goroutine has stopped reading r.
func pipeCopy(write func([]byte) error, r io.Reader, size int64) (int64, error) {
	if size <= copyChunk {
		return io.Copy(writerFunc(write), io.LimitReader(r, size))
	}
	type chunk struct {
		data []byte
		err  error
	}
	full := make(chan chunk, copyBuffers)
	free := make(chan *[copyChunk]byte, copyBuffers)
	for range copyBuffers {
		free <- chunkPool.Get().(*[copyChunk]byte)
	}
	stop := make(chan struct{})
	go func() {
		defer close(full)
		lr := io.LimitReader(r, size)
		for {
			var buf *[copyChunk]byte
			select {
			case <-stop:
				return
			default:
			}
			select {
			case <-stop:
				return
			case buf = <-free:
			}
			n, err := fill(lr, buf[:])
			if n > 0 {
				full <- chunk{data: buf[:n]}
			} else {
				free <- buf
			}
			if err != nil {
				if err != io.EOF {
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
			free <- (*[copyChunk]byte)(c.data[:copyChunk])
		}
	}
	close(free)
	for buf := range free {
		chunkPool.Put(buf)
	}
	return written, failed
}

// fill reads into buf until buf is full, r ends or r fails. Unlike
// io.ReadFull it keeps an error that comes with the bytes that fill buf, and
// only a bare io.EOF is the end.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
