package main

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/registry"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// startUpstream serves the archives at paths as a registry on 127.0.0.1
// until the test ends.
func startUpstream(t *testing.T, paths ...string) *httptest.Server {
	t.Helper()
	var archives []registry.Archive
	for _, path := range paths {
		r, err := archive.Open(path, archive.Options{})
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, registry.Archive{Reader: r})
	}
	h, err := registry.New(archives, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return srv
}

// recordedImages lists the names and digests of the images of an archive.
func recordedImages(t *testing.T, path string) map[string]digest.Digest {
	t.Helper()
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	images := map[string]digest.Digest{}
	for _, img := range r.Images() {
		for _, name := range img.Names {
			images[name] = img.Descriptor.Digest
		}
	}
	return images
}

// TestServeRecord pulls two images through a recording mirror, one whole and
// one by its manifest alone, snapshots on SIGHUP, stops, and serves the
// recording alone: both images are there whole, under the names asked for.
func TestServeRecord(t *testing.T) {
	dir := t.TempDir()
	one, oneBlobs := writeImageArchive(t, filepath.Join(dir, "one.tar"), "example.com/team/app:1", 2, 1<<20)
	two, twoBlobs := writeImageArchive(t, filepath.Join(dir, "two.tar"), "example.com/team/app:2", 1, 3<<20)
	up := startUpstream(t, one, two)
	out := filepath.Join(dir, "pulled.tar")
	p := startServe(t, "--quiet", "--upstream", "example.com="+up.URL, "--record", out)

	if err := pullBlobs(http.DefaultClient, p.url, "example.com/team/app", "1", oneBlobs); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLine(t, "recorded 1 image")
	want := map[string]digest.Digest{"example.com/team/app:1": oneBlobs[0].Digest}
	if got := recordedImages(t, out); !maps.Equal(got, want) {
		t.Errorf("the snapshot holds %v, want %v", got, want)
	}

	if err := pullBlobs(http.DefaultClient, p.url, "example.com/team/app", "2", twoBlobs[:1]); err != nil {
		t.Fatal(err)
	}
	if status := p.stop(t, syscall.SIGTERM); status != 0 {
		t.Fatalf("exit status %d: %q", status, p.stderr())
	}
	want["example.com/team/app:2"] = twoBlobs[0].Digest
	if got := recordedImages(t, out); !maps.Equal(got, want) {
		t.Errorf("the recording holds %v, want %v", got, want)
	}
	var lock struct{ Images map[string]digest.Digest }
	readJSON(t, out+".lock.json", &lock)
	if !maps.Equal(lock.Images, want) {
		t.Errorf("the lock list holds %v, want %v", lock.Images, want)
	}
	if _, err := os.Stat(spoolDir(out)); !os.IsNotExist(err) {
		t.Errorf("the spool is left: %v", err)
	}
	if status, _, stderr := ocitar(t, "verify", out); status != 0 {
		t.Errorf("verify: %s", stderr)
	}

	up.Close()
	alone := startServe(t, "--quiet", out)
	for tag, blobs := range map[string][]ocispec.Descriptor{"1": oneBlobs, "2": twoBlobs} {
		if err := pullBlobs(http.DefaultClient, alone.url, "example.com/team/app", tag, blobs); err != nil {
			t.Errorf("from the recording alone, tag %s: %v", tag, err)
		}
	}
}
