package archive

import (
	"fmt"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// TestReaderConcurrentOpenBlob: 16 goroutines read every blob of one Reader at
// once; each gets every blob whole and matching its digest (run with -race).
func TestReaderConcurrentOpenBlob(t *testing.T) {
	for _, path := range []string{"../testdata/sample-multi.oci.tar", "../testdata/sample.docker.tar"} {
		t.Run(path, func(t *testing.T) {
			r, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			blobs := allBlobs(r)
			if len(blobs) < 4 {
				t.Fatalf("%d blobs, want the sample's", len(blobs))
			}
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					for _, d := range blobs {
						if err := readBlobDigest(r, d); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// allBlobs lists every blob the images of r reference, each once.
func allBlobs(r *Reader) []digest.Digest {
	seen := map[digest.Digest]bool{}
	var out []digest.Digest
	for _, img := range r.Images() {
		for _, b := range img.Blobs {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				out = append(out, b.Digest)
			}
		}
	}
	return out
}

// readBlobDigest reads blob d whole and checks the digest of what it read.
func readBlobDigest(r *Reader, d digest.Digest) error {
	rc, _, err := r.OpenBlob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := digest.FromReader(rc)
	if err != nil {
		return err
	}
	if got != d {
		return fmt.Errorf("blob %s: read content is %s", d, got)
	}
	return nil
}
