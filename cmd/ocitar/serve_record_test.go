package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/registry"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
)

// startUpstream serves the archives at paths as a registry on 127.0.0.1
// until the test ends.
func startUpstream(t *testing.T, paths ...string) *httptest.Server {
	t.Helper()
	return startUpstreamOptions(t, registry.Options{}, paths...)
}

// startUpstreamOptions is startUpstream with opts.
func startUpstreamOptions(t *testing.T, opts registry.Options, paths ...string) *httptest.Server {
	t.Helper()
	var archives []registry.Archive
	for _, path := range paths {
		r, err := archive.Open(path, archive.Options{})
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, registry.Archive{Reader: r})
	}
	h, err := registry.New(archives, opts)
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

// TestServeUpstreamCredentials pulls through an upstream that wants a
// login, given each way skopeo takes one: the flag, --authfile,
// containers' auth.json, docker's config.json. Without one the client
// gets 502.
func TestServeUpstreamCredentials(t *testing.T) {
	dir := t.TempDir()
	path, blobs := writeImageArchive(t, filepath.Join(dir, "app.tar"), "example.com/team/app:1", 1, 1<<20)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users, err := registry.ParseHtpasswd(strings.NewReader("alice:"+string(hash)+"\n"), "users")
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstreamOptions(t, registry.Options{Users: users}, path)
	host := strings.TrimPrefix(up.URL, "http://")
	auths := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, base64.StdEncoding.EncodeToString([]byte("alice:s3cret")))
	writeAuth := func(rel string) string {
		file := filepath.Join(t.TempDir(), rel)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(auths), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	runtime := writeAuth("containers/auth.json")
	docker := writeAuth(".docker/config.json")
	tests := []struct {
		name  string
		env   []string
		args  []string
		pulls bool
	}{
		{"flag", nil, []string{"--upstream-creds", "alice:s3cret"}, true},
		{"flag of the registry", nil, []string{"--upstream-creds", "example.com=alice:s3cret"}, true},
		{"authfile", nil, []string{"--authfile", writeAuth("auth.json")}, true},
		{"containers' auth.json", []string{"XDG_RUNTIME_DIR=" + filepath.Dir(filepath.Dir(runtime))}, nil, true},
		{"docker's config.json", []string{"HOME=" + filepath.Dir(filepath.Dir(docker))}, nil, true},
		{"none", nil, nil, false},
		{"wrong password", nil, []string{"--upstream-creds", "alice:wrong"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"HOME=" + t.TempDir(), "XDG_RUNTIME_DIR=" + t.TempDir(), "REGISTRY_AUTH_FILE=", "DOCKER_CONFIG="}, tt.env...)
			p := startServeEnv(t, env, append([]string{"--quiet", "--cache-dir", t.TempDir(), "--upstream", "example.com=" + up.URL}, tt.args...)...)
			err := pullBlobs(http.DefaultClient, p.url, "example.com/team/app", "1", blobs)
			if (err == nil) != tt.pulls {
				t.Errorf("pull: %v; want success %v", err, tt.pulls)
			}
			if !tt.pulls && err != nil && !strings.Contains(err.Error(), ": 502,") {
				t.Errorf("pull: %v; want 502", err)
			}
			for _, line := range p.stderr() {
				if strings.Contains(line, "s3cret") || strings.Contains(line, base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))) {
					t.Errorf("the log holds the password: %s", line)
				}
			}
		})
	}
}

// TestServeRecordSecondSignal: while the last snapshot waits for a blob a
// stalled upstream holds back, a second SIGTERM stops serve at once, and
// leaves no file of the snapshot.
func TestServeRecordSecondSignal(t *testing.T) {
	dir := t.TempDir()
	path, blobs := writeImageArchive(t, filepath.Join(dir, "app.tar"), "example.com/team/app:1", 1, 1<<20)
	archiveUp := startUpstream(t, path)
	stalled := make(chan struct{})
	defer close(stalled)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			select {
			case <-stalled:
			case <-r.Context().Done():
			}
			return
		}
		proxy, err := http.Get(archiveUp.URL + r.URL.Path)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer proxy.Body.Close()
		w.Header().Set("Content-Type", proxy.Header.Get("Content-Type"))
		w.WriteHeader(proxy.StatusCode)
		io.Copy(w, proxy.Body)
	}))
	defer up.Close()
	out := filepath.Join(dir, "pulled.tar")
	p := startServe(t, "--quiet", "--upstream", "example.com="+up.URL, "--record", out)
	if err := pullBlobs(http.DefaultClient, p.url, "example.com/team/app", "1", blobs[:1]); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLine(t, "a second SIGINT or SIGTERM stops at once")
	p.waitLine(t, "writing the recording to "+out)
	p.stop(t, syscall.SIGTERM)
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%s holds %v; want app.tar and the spool, no snapshot", dir, entries)
	}
}
