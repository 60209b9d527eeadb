package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/errkind"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// fetcher is a fetch for Fill that counts its calls and returns what body
// makes, of size bytes, or err.
type fetcher struct {
	calls atomic.Int32
	body  func() io.Reader
	size  int64
	err   error
}

func (f *fetcher) fetch(ctx context.Context) (io.ReadCloser, int64, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, 0, f.err
	}
	return io.NopCloser(f.body()), f.size, nil
}

// bytesFetcher fetches content, declared of size bytes.
func bytesFetcher(content []byte, size int64) *fetcher {
	return &fetcher{body: func() io.Reader { return bytes.NewReader(content) }, size: size}
}

// pipeFetcher fetches what the test writes to the returned pipe, declared of size bytes.
func pipeFetcher(size int64) (*fetcher, *io.PipeWriter) {
	r, w := io.Pipe()
	return &fetcher{body: func() io.Reader { return r }, size: size}, w
}

// fill calls Fill and fails the test on an error.
func fill(t *testing.T, c *Cache, d digest.Digest, f *fetcher) *Filling {
	t.Helper()
	filling, err := c.Fill(context.Background(), d, f.fetch)
	if err != nil {
		t.Fatalf("Fill: %v", err)
	}
	return filling
}

// readFrom reads the Filling from start to its end.
func readFrom(f *Filling, ctx context.Context, start int64) ([]byte, error) {
	r := f.NewReader(ctx, start)
	defer r.Close()
	return io.ReadAll(r)
}

// checkStored fails unless the cache holds content as d, and nothing in tmp/.
func checkStored(t *testing.T, c *Cache, d digest.Digest, content []byte) {
	t.Helper()
	if got := readBlob(t, c, d); !bytes.Equal(got, content) {
		t.Errorf("the cache holds %d bytes of %s; want %d bytes", len(got), digest.FromBytes(got), len(content))
	}
	if left := names(t, c, tmpDir); len(left) > 0 {
		t.Errorf("Fill left %q in tmp/", left)
	}
}

// checkEmpty fails unless the cache holds no blob and nothing in tmp/.
func checkEmpty(t *testing.T, c *Cache) {
	t.Helper()
	if left := append(names(t, c, blobsDir), names(t, c, tmpDir)...); len(left) > 0 {
		t.Errorf("a failed Fill left %q", left)
	}
}

// TestCacheFillConcurrent: Fills of one digest at once make one fetch, which
// every reader follows to the same bytes.
func TestCacheFillConcurrent(t *testing.T) {
	const clients = 8
	content := testimage.Bytes(1, 3<<20+5)
	d := digest.FromBytes(content)
	c := newCache(t, -1)
	fetch, body := pipeFetcher(int64(len(content)))
	// Fills that do not join the fetch would wait for one another, as the
	// bytes come only once all have returned: the deadline ends that.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var filled, done sync.WaitGroup
	got := make([][]byte, clients)
	errs := make([]error, clients)
	for i := range clients {
		filled.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			f, err := c.Fill(ctx, d, fetch.fetch)
			filled.Done()
			if err != nil {
				errs[i] = err
				return
			}
			got[i], errs[i] = readFrom(f, context.Background(), 0)
		}()
	}
	filled.Wait()
	if _, err := body.Write(content); err != nil {
		t.Fatal(err)
	}
	body.Close()
	done.Wait()
	if n := fetch.calls.Load(); n != 1 {
		t.Errorf("%d fetches; want 1", n)
	}
	for i := range clients {
		if errs[i] != nil || !bytes.Equal(got[i], content) {
			t.Errorf("client %d read %d bytes of %s, %v; want %s", i, len(got[i]), digest.FromBytes(got[i]), errs[i], d)
		}
	}
	checkStored(t, c, d, content)
}

// TestCacheFillFails: a fetch that fails, or brings other bytes than d, gives
// every reader an error and adds nothing, and the next Fill fetches again.
func TestCacheFillFails(t *testing.T) {
	content := testimage.Bytes(1, 1<<20+3)
	d := digest.FromBytes(content)
	other := testimage.Bytes(2, len(content))
	size := int64(len(content))
	tests := []struct {
		name     string
		fetch    *fetcher
		max      int64
		fillErr  error // Fill's error, nil when Fill succeeds
		readErr  error // then the readers'
		refetch  bool  // the next Fill fetches again
		readable int   // most bytes a reader gets
	}{
		{"digest mismatch", bytesFetcher(other, size), -1, nil, errkind.ErrDigestMismatch, true, len(content) - 1},
		{"short body", bytesFetcher(content[:1000], size), -1, nil, errkind.ErrSizeMismatch, true, 1000},
		{"long body", bytesFetcher(append(content, 'x'), size), -1, nil, errkind.ErrSizeMismatch, true, len(content) - 1},
		{"body fails", &fetcher{body: func() io.Reader { return &failingReader{content[:300], errSource} }, size: size}, -1, nil, errSource, true, 300},
		{"fetch fails", &fetcher{err: errSource}, -1, errSource, nil, true, 0},
		{"size unknown, digest mismatch", bytesFetcher(other, -1), -1, errkind.ErrDigestMismatch, nil, true, 0},
		{"larger than the bound", bytesFetcher(content, size), size - 1, errkind.ErrTooLarge, nil, true, 0},
		{"larger than the bound, size unknown", bytesFetcher(content, -1), size - 1, errkind.ErrTooLarge, nil, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, tt.max)
			f, err := c.Fill(context.Background(), d, tt.fetch.fetch)
			if tt.fillErr != nil {
				if !errors.Is(err, tt.fillErr) || f != nil {
					t.Fatalf("Fill: %v; want an error wrapping %v", err, tt.fillErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Fill: %v", err)
				}
				for _, start := range []int64{0, 100} {
					data, err := readFrom(f, context.Background(), start)
					if !errors.Is(err, tt.readErr) || len(data) > tt.readable {
						t.Errorf("reading from %d: %d bytes, %v; want at most %d bytes, an error wrapping %v", start, len(data), err, tt.readable, tt.readErr)
					}
				}
				if err := f.Wait(context.Background()); !errors.Is(err, tt.readErr) {
					t.Errorf("Wait: %v; want an error wrapping %v", err, tt.readErr)
				}
			}
			checkEmpty(t, c)
			again := bytesFetcher(content, size)
			if tt.max < 0 {
				f := fill(t, c, d, again)
				if data, err := readFrom(f, context.Background(), 0); err != nil || !bytes.Equal(data, content) {
					t.Errorf("the next Fill read %d bytes, %v", len(data), err)
				}
			} else if _, err := c.Fill(context.Background(), d, again.fetch); err == nil {
				t.Errorf("the next Fill succeeded")
			}
			if n := again.calls.Load(); n != 1 {
				t.Errorf("the next Fill fetched %d times; want 1", n)
			}
		})
	}
}

// TestFillingNewReader reads a blob from several starts, the readers made
// before its bytes arrive.
func TestFillingNewReader(t *testing.T) {
	content := testimage.Bytes(3, 2<<20+7)
	d := digest.FromBytes(content)
	size := int64(len(content))
	tests := []struct {
		name  string
		start int64
	}{
		{"from the start", 0},
		{"from the middle", size / 2},
		{"the last byte", size - 1},
		{"from the end", size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			fetch, body := pipeFetcher(size)
			f := fill(t, c, d, fetch)
			r := f.NewReader(context.Background(), tt.start)
			defer r.Close()
			read := make(chan []byte)
			go func() {
				data, err := io.ReadAll(r)
				if err != nil {
					t.Errorf("ReadAll: %v", err)
				}
				read <- data
			}()
			for chunk := range slices.Chunk(content, 300<<10) {
				if _, err := body.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
			body.Close()
			if got := <-read; !bytes.Equal(got, content[tt.start:]) {
				t.Errorf("read %d bytes; want the %d from %d", len(got), size-tt.start, tt.start)
			}
			if f.Size() != size {
				t.Errorf("Size = %d; want %d", f.Size(), size)
			}
			checkStored(t, c, d, content)
		})
	}
}

// TestFillingReaderCancelled: a reader whose context ends while it waits for
// the last byte fails with its context's error, and the fetch goes on for the others.
func TestFillingReaderCancelled(t *testing.T) {
	content := testimage.Bytes(4, 1<<20)
	d := digest.FromBytes(content)
	c := newCache(t, -1)
	fetch, body := pipeFetcher(int64(len(content)))
	f := fill(t, c, d, fetch)
	if _, err := body.Write(content); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := f.NewReader(ctx, 0)
	defer r.Close()
	head := make([]byte, len(content)-1)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error)
	go func() {
		n, err := r.Read(make([]byte, 10))
		if n != 0 {
			t.Errorf("the cancelled reader got %d bytes", n)
		}
		blocked <- err
	}()
	cancel()
	if err := <-blocked; !errors.Is(err, context.Canceled) {
		t.Errorf("Read: %v; want context.Canceled", err)
	}
	body.Close()
	if data, err := readFrom(f, context.Background(), 0); err != nil || !bytes.Equal(data, content) {
		t.Errorf("another reader read %d bytes, %v", len(data), err)
	}
	checkStored(t, c, d, content)
}

// TestCacheFillSizeUnknown: with a size of -1, Fill returns once the blob is stored.
func TestCacheFillSizeUnknown(t *testing.T) {
	content := testimage.Bytes(5, 1<<20+1)
	d := digest.FromBytes(content)
	c := newCache(t, -1)
	f := fill(t, c, d, bytesFetcher(content, -1))
	if f.Size() != int64(len(content)) {
		t.Errorf("Size = %d; want %d", f.Size(), len(content))
	}
	checkStored(t, c, d, content)
	if data, err := readFrom(f, context.Background(), 0); err != nil || !bytes.Equal(data, content) {
		t.Errorf("read %d bytes, %v", len(data), err)
	}
}

// TestCacheFillHeld: Fill of a blob the cache holds fetches nothing, and its
// readers check the stored file, which is removed when it fails its digest,
// also when it replaced a file found good before.
func TestCacheFillHeld(t *testing.T) {
	content := testimage.Bytes(6, 1<<20+9)
	d := digest.FromBytes(content)
	tests := []struct {
		name          string
		damage        bool
		checkedBefore bool
		err           error
	}{
		{"whole", false, false, nil},
		{"damaged", true, false, errkind.ErrDigestMismatch},
		{"replaced after a check", true, true, errkind.ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			if _, _, _, err := c.Put(bytes.NewReader(content), d); err != nil {
				t.Fatal(err)
			}
			if tt.checkedBefore {
				if err := fill(t, c, d, &fetcher{err: errSource}).Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if tt.damage {
				replacement := c.blobPath(d) + ".new"
				if err := os.WriteFile(replacement, testimage.Bytes(7, len(content)), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(replacement, c.blobPath(d)); err != nil {
					t.Fatal(err)
				}
			}
			fetch := &fetcher{err: errSource}
			f := fill(t, c, d, fetch)
			if n := fetch.calls.Load(); n != 0 || f.Size() != int64(len(content)) {
				t.Errorf("%d fetches, Size %d; want none, %d", n, f.Size(), len(content))
			}
			data, err := readFrom(f, context.Background(), 0)
			if !errors.Is(err, tt.err) || tt.err == nil && !bytes.Equal(data, content) || len(data) > len(content) {
				t.Errorf("read %d bytes, %v; want the blob or an error wrapping %v", len(data), err, tt.err)
			}
			if err := f.Wait(context.Background()); !errors.Is(err, tt.err) {
				t.Errorf("Wait: %v; want %v", err, tt.err)
			}
			if c.Has(d) == tt.damage {
				t.Errorf("the cache holds the blob: %v; want %v", c.Has(d), !tt.damage)
			}
		})
	}
}

// BenchmarkCacheFill fills blobs of several sizes, read 16 KiB at a time by a
// reader that follows the fetch: the bytes allocated per fill stay the same
// whatever the blob's size, as the blob goes to disk and is read back.
// TestCacheFillFetchedKnownGood: a blob this Cache fetched, checked as it
// was written, is not hashed again by the readers of a later Fill (written
// over in place, its file keeps its identity, and its bytes are served as
// they are); a file that replaced it is checked.
func TestCacheFillFetchedKnownGood(t *testing.T) {
	content := testimage.Bytes(6, 1<<20+9)
	other := testimage.Bytes(7, len(content))
	d := digest.FromBytes(content)
	tests := []struct {
		name    string
		replace bool
		want    []byte
		err     error
	}{
		{"written over in place", false, other, nil},
		{"replaced", true, nil, errkind.ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, -1)
			if err := fill(t, c, d, bytesFetcher(content, int64(len(content)))).Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			path := c.blobPath(d)
			if tt.replace {
				path += ".new"
			}
			if err := os.WriteFile(path, other, 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.replace {
				if err := os.Rename(path, c.blobPath(d)); err != nil {
					t.Fatal(err)
				}
			}
			data, err := readFrom(fill(t, c, d, &fetcher{err: errSource}), context.Background(), 0)
			if !errors.Is(err, tt.err) || tt.err == nil && !bytes.Equal(data, tt.want) {
				t.Errorf("read %d bytes (%s), %v; want %d bytes (%s) or an error wrapping %v", len(data), digest.FromBytes(data), err, len(tt.want), digest.FromBytes(tt.want), tt.err)
			}
		})
	}
}

func BenchmarkCacheFill(b *testing.B) {
	for _, size := range []int{8 << 20, 64 << 20} {
		b.Run(strconv.Itoa(size>>20)+"MiB", func(b *testing.B) {
			content := testimage.Bytes(9, size)
			d := digest.FromBytes(content)
			c, err := Open(b.TempDir(), -1)
			if err != nil {
				b.Fatal(err)
			}
			fetch := bytesFetcher(content, int64(size))
			buf := make([]byte, 16<<10)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				f, err := c.Fill(context.Background(), d, fetch.fetch)
				if err != nil {
					b.Fatal(err)
				}
				r := f.NewReader(context.Background(), 0)
				n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf)
				r.Close()
				if err != nil || n != int64(size) {
					b.Fatalf("read %d bytes, %v", n, err)
				}
				if err := f.Wait(context.Background()); err != nil {
					b.Fatal(err)
				}
				if err := c.Remove(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
