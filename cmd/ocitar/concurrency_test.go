package main

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
)

// TestCopyAllWhileReading: copy --all of the multi-arch sample while another
// goroutine reads every blob of the same file through its own Reader (run
// with -race). Both succeed, and the copy holds the same index.
func TestCopyAllWhileReading(t *testing.T) {
	const src = "../../testdata/sample-multi.oci.tar"
	out := filepath.Join(t.TempDir(), "out.tar")
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 4 {
			if err := readAllBlobs(src); err != nil {
				t.Error(err)
			}
		}
	})
	mustOcitar(t, "copy", "--quiet", "--all", "oci-tar:"+src, "oci-tar:"+out)
	wg.Wait()
	if got, want := indexDigest(t, out), indexDigest(t, src); got != want {
		t.Errorf("copied image %s, want %s", got, want)
	}
}

// readAllBlobs reads every blob of every image of the archive at path, verified.
func readAllBlobs(path string) error {
	rep := archive.Verify(path, archive.Options{})
	if len(rep.Problems) > 0 {
		return rep.Problems[0]
	}
	return nil
}

func indexDigest(t *testing.T, path string) digest.Digest {
	t.Helper()
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Images()[0].Descriptor.Digest
}
