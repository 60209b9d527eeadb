package rootfs

import (
	"archive/tar"
	"bytes"
	"io"
)

// Unpack reads a layer's entries on one goroutine while another applies
// them, so that parsing, hashing and decompressing the tar overlap with the
// system calls that make the files. Entries go over in batches: one handoff
// per entry would cost more in wake-ups than it saves.
const (
	batchEntries = 64       // entries in a batch
	batchBytes   = 1 << 20  // file content read ahead in a batch
	aheadBody    = 64 << 10 // the largest file whose content is read ahead
)

// aheadEntry is an entry read ahead: its header and, for a regular file of
// at most aheadBody bytes, its content. err ends the layer: io.EOF once it
// is read to its end and its checks passed.
type aheadEntry struct {
	hdr  *tar.Header
	body io.Reader // the content: read ahead, or the tar reader itself
	// large is set when body is the tar reader, for a file larger than
	// aheadBody: it ends its batch, and the reader waits for its content to
	// be consumed before it reads on.
	large bool
	err   error
}

// entryReader reads the entries of a layer ahead of their application.
type entryReader struct {
	tr      *tar.Reader
	stream  io.Reader // tr's source
	batches chan []aheadEntry
	done    chan struct{} // a large file's content was consumed
	stop    chan struct{} // closed when the entries are no longer wanted
	ended   chan struct{} // closed when the goroutine returns
}

// readEntries starts reading the entries of the tar stream, and then the
// rest of it, so that the stream's checks at its end run.
func readEntries(stream io.Reader) *entryReader {
	r := &entryReader{tr: tar.NewReader(stream), stream: stream, batches: make(chan []aheadEntry, 1),
		done: make(chan struct{}), stop: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(r.ended)
		for r.nextBatch() {
		}
	}()
	return r
}

// nextBatch reads and sends a batch of entries; it returns false once there
// is no more to read.
func (r *entryReader) nextBatch() bool {
	var batch []aheadEntry
	for size := 0; len(batch) < batchEntries && size < batchBytes; {
		e := r.readEntry()
		batch = append(batch, e)
		if e.err != nil {
			r.send(batch)
			return false
		}
		if e.large {
			if !r.send(batch) {
				return false
			}
			select {
			case <-r.done:
				return true
			case <-r.stop:
				return false
			}
		}
		size += int(e.hdr.Size)
	}
	return r.send(batch)
}

// readEntry reads the next entry, with its content if it is a small file;
// after the last one it reads the rest of the stream.
func (r *entryReader) readEntry() aheadEntry {
	hdr, err := r.tr.Next()
	if err == io.EOF {
		if _, err = io.Copy(io.Discard, r.stream); err == nil {
			err = io.EOF
		}
	}
	if err != nil {
		return aheadEntry{err: err}
	}
	e := aheadEntry{hdr: hdr, body: r.tr, large: hdr.Typeflag == tar.TypeReg && hdr.Size > aheadBody}
	if hdr.Typeflag == tar.TypeReg && !e.large {
		body := make([]byte, hdr.Size)
		if _, err := io.ReadFull(r.tr, body); err != nil {
			return aheadEntry{err: err}
		}
		e.body = bytes.NewReader(body)
	}
	return e
}

func (r *entryReader) send(batch []aheadEntry) bool {
	select {
	case r.batches <- batch:
		return true
	case <-r.stop:
		return false
	}
}

// consumed tells the reader that e's content was read, if it is a large file's.
func (r *entryReader) consumed(e aheadEntry) {
	if e.large {
		r.done <- struct{}{}
	}
}

// close stops the reader and waits for it.
func (r *entryReader) close() {
	close(r.stop)
	<-r.ended
}
