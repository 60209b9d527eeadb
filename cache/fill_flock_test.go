//go:build linux

package cache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// TestCacheFillTwoProcesses: a cache opened twice on one directory, as two
// processes do, fetches a blob once; the second Fill waits for the first's
// fetch and finds the blob stored.
func TestCacheFillTwoProcesses(t *testing.T) {
	content := testimage.Bytes(8, 1<<20+11)
	d := digest.FromBytes(content)
	first := newCache(t, -1)
	second, err := Open(first.Dir(), -1)
	if err != nil {
		t.Fatal(err)
	}
	fetch, body := pipeFetcher(int64(len(content)))
	f := fill(t, first, d, fetch)
	other := bytesFetcher(content, int64(len(content)))
	filled := make(chan *Filling)
	go func() {
		f, err := second.Fill(context.Background(), d, other.fetch)
		if err != nil {
			t.Errorf("the second Fill: %v", err)
		}
		filled <- f
	}()
	waitForFlockWaiter(t, first.Dir(), d)
	if _, err := body.Write(content); err != nil {
		t.Fatal(err)
	}
	body.Close()
	if err := f.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := <-filled
	if n := other.calls.Load(); n != 0 {
		t.Errorf("the second cache fetched %d times; want 0", n)
	}
	if data, err := readFrom(g, context.Background(), 0); err != nil || !bytes.Equal(data, content) {
		t.Errorf("the second Fill read %d bytes, %v", len(data), err)
	}
}

// waitForFlockWaiter waits until /proc/locks shows someone waiting for the
// fill lock of d.
func waitForFlockWaiter(t *testing.T, dir string, d digest.Digest) {
	t.Helper()
	info, err := os.Stat(filepath.Join(dir, locksDir, "fill-"+d.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	inode := ":" + strconv.FormatUint(info.Sys().(*syscall.Stat_t).Ino, 10)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		locks, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(locks)) {
			if fields := strings.Fields(line); len(fields) > 6 && fields[1] == "->" && strings.HasSuffix(fields[6], inode) {
				return
			}
		}
	}
	t.Fatalf("no one waits for the lock of %s in /proc/locks", d)
}
