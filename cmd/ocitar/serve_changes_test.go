package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// objectServer serves one object by ranges, as a web server does, with an
// ETag that changes with its content, so that ranged GETs under If-Match
// of an object replaced get 412.
type objectServer struct {
	*httptest.Server
	mu   sync.Mutex
	data []byte
}

func startObjectServer(t *testing.T, data []byte) *objectServer {
	o := &objectServer{data: data}
	o.Server = httptest.NewServer(o)
	t.Cleanup(o.Close)
	return o
}

func (o *objectServer) put(data []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.data = data
}

func (o *objectServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	data := o.data
	o.mu.Unlock()
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// imageArchive is an archive writeImageArchive wrote: its bytes and the
// blobs of its image.
type imageArchive struct {
	data  []byte
	blobs []ocispec.Descriptor
}

func newImageArchive(t *testing.T, name string, layers int) imageArchive {
	path, blobs := writeImageArchive(t, filepath.Join(t.TempDir(), "app.tar"), name, layers, 256<<10)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return imageArchive{data, blobs}
}

// TestServeRemoteChanged replaces the object ocitar serve serves: serve
// finds the change by itself, by a read that fails or, when every blob is
// in its cache, by asking the server once a client asks for what it lacks;
// it logs the change once, without the URL's query string, reopens the
// object and serves the new image. A reopen that fails leaves the change
// to be found again.
func TestServeRemoteChanged(t *testing.T) {
	const changed = ": the object changed since it was opened; reopening it"
	tests := []struct {
		name string
		// change replaces the object, once the old image is pulled or not.
		change func(t *testing.T, o *objectServer, p *serveProcess, old, next imageArchive)
		pulled bool // the old image was pulled whole first: its blobs are in the cache
		once   bool // the change is logged once
	}{
		{"reads under way find it", func(t *testing.T, o *objectServer, p *serveProcess, old, next imageArchive) {
			o.put(next.data)
			getAll(t, p.url+"/v2/example.com/app/blobs/", old.blobs[1:])
		}, false, true},
		{"a name no archive holds", func(t *testing.T, o *objectServer, p *serveProcess, old, next imageArchive) {
			o.put(next.data)
		}, true, true},
		{"a reopen that fails", func(t *testing.T, o *objectServer, p *serveProcess, old, next imageArchive) {
			o.put([]byte("not a tar"))
			getAll(t, p.url+"/v2/example.com/app/blobs/", old.blobs[1:])
			p.waitLine(t, "reopening the changed object: ")
			o.put(next.data)
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, next := newImageArchive(t, "example.com/app:1", 3), newImageArchive(t, "example.com/next:1", 2)
			o := startObjectServer(t, old.data)
			secret := "X-Amz-Signature=s3cr3t"
			p := startServe(t, "--cache-dir", t.TempDir(), o.URL+"/app.tar?"+secret)
			if tt.pulled {
				if err := pullBlobs(http.DefaultClient, p.url, "example.com/app", "1", old.blobs); err != nil {
					t.Fatalf("before the change: %v", err)
				}
			}
			tt.change(t, o, p, old, next)
			pollPull(t, p, "example.com/next", next.blobs)
			p.waitLine(t, "reopened: serving the new object")
			lines := 0
			for _, line := range p.stderr() {
				if strings.Contains(line, secret) {
					t.Errorf("a log line shows the query string: %s", line)
				}
				if strings.Contains(line, changed) {
					lines++
					if want := "ocitar serve: " + o.URL + "/app.tar" + changed; line != want {
						t.Errorf("log line %q, want %q", line, want)
					}
				}
			}
			if lines == 0 || tt.once && lines != 1 {
				t.Errorf("%d lines say the object changed, want one:\n%s", lines, strings.Join(p.stderr(), "\n"))
			}
		})
	}
}

// getAll gets the blobs at base+digest at once, and reads each response to
// its end, whatever it is.
func getAll(t *testing.T, base string, blobs []ocispec.Descriptor) {
	var wg sync.WaitGroup
	for _, b := range blobs {
		wg.Go(func() {
			resp, err := http.Get(base + b.Digest.String())
			if err == nil {
				bytes.NewBuffer(nil).ReadFrom(resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

// pollPull pulls repo:1 until it succeeds, every blob checked, or the
// deadline passes.
func pollPull(t *testing.T, p *serveProcess, repo string, blobs []ocispec.Descriptor) {
	t.Helper()
	deadline := time.Now().Add(serveReady)
	for {
		err := pullBlobs(http.DefaultClient, p.url, repo, "1", blobs)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ocitar serve did not serve %s of the new object: %v\n%s", repo, err, strings.Join(p.stderr(), "\n"))
		}
		<-time.After(50 * time.Millisecond)
	}
}
