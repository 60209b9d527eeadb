package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// serveReady bounds the wait for a line of ocitar serve; it guards against a
// hang and measures nothing.
const serveReady = 30 * time.Second

// serveProcess is an ocitar serve a test started, listening on 127.0.0.1.
type serveProcess struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}

	mu    sync.Mutex
	lines []string
	added chan struct{} // signalled when a line is added
}

// startServe starts ocitar serve on a free port of 127.0.0.1 and waits for its
// ready line; the process is killed by its PID when the test ends.
func startServe(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	return startServeEnv(t, nil, args...)
}

// startServeEnv is startServe with env added to the environment.
func startServeEnv(t *testing.T, env []string, args ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{exited: make(chan struct{}), added: make(chan struct{}, 1)}
	p.cmd = exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.added <- struct{}{}:
			default:
			}
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	ready := p.waitLine(t, "serving on ")
	p.url = ready[strings.Index(ready, "serving on ")+len("serving on "):]
	return p
}

// waitLine waits for a line of stderr containing s and returns it.
func (p *serveProcess) waitLine(t *testing.T, s string) string {
	t.Helper()
	deadline := time.After(serveReady)
	for {
		p.mu.Lock()
		for _, line := range p.lines {
			if strings.Contains(line, s) {
				p.mu.Unlock()
				return line
			}
		}
		p.mu.Unlock()
		select {
		case <-p.added:
		case <-p.exited:
			t.Fatalf("ocitar serve exited without printing %q: %s", s, strings.Join(p.stderr(), "\n"))
		case <-deadline:
			t.Fatalf("ocitar serve did not print %q: %s", s, strings.Join(p.stderr(), "\n"))
		}
	}
}

func (p *serveProcess) stderr() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// stop sends sig and returns the exit status.
func (p *serveProcess) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return p.wait(t)
}

// wait waits for the process to exit and returns its status.
func (p *serveProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(serveReady):
		t.Fatal("ocitar serve did not stop")
	}
	return p.cmd.ProcessState.ExitCode()
}

// writeImageArchive writes an OCI tar of one image of layers of layerSize
// random bytes named name, and returns its path and the image's blobs.
func writeImageArchive(t *testing.T, path, name string, layers, layerSize int) (string, []ocispec.Descriptor) {
	t.Helper()
	var buf bytes.Buffer
	if err := testimage.WriteOCILayout(&buf, testimage.OCIOptions{}, testimage.Large(name, layers, layerSize)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, imageBlobs(t, path)
}

// imageBlobs lists the manifest, config and layers of the only image of an archive.
func imageBlobs(t *testing.T, path string) []ocispec.Descriptor {
	t.Helper()
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img := r.Images()[0]
	data, _, err := r.Manifest(img.Descriptor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return append([]ocispec.Descriptor{img.Descriptor, m.Config}, m.Layers...)
}

// pullBlobs fetches the manifest of repo:tag and every blob, checking digests.
func pullBlobs(client *http.Client, base, repo, tag string, blobs []ocispec.Descriptor) error {
	for i, b := range blobs {
		url := base + "/v2/" + repo + "/blobs/" + b.Digest.String()
		if i == 0 {
			url = base + "/v2/" + repo + "/manifests/" + tag
		}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || digest.FromBytes(body) != b.Digest {
			return fmt.Errorf("%s: %d, %v, got %s", url, resp.StatusCode, err, digest.FromBytes(body))
		}
	}
	return nil
}

var readyLine = regexp.MustCompile(`^ocitar serve: serving on http://127\.0\.0\.1:[0-9]+$`)

// TestServeReadyAndAccessLog: one ready line, then one line per request; none with --quiet.
func TestServeReadyAndAccessLog(t *testing.T) {
	path, blobs := writeImageArchive(t, filepath.Join(t.TempDir(), "app.tar"), "example.com/team/app:1", 2, 1<<20)
	for _, quiet := range []bool{false, true} {
		args := []string{path}
		if quiet {
			args = append([]string{"--quiet"}, args...)
		}
		p := startServe(t, args...)
		if lines := p.stderr(); len(lines) != 1 || !readyLine.MatchString(lines[0]) {
			t.Fatalf("stderr before any request: %q", lines)
		}
		if err := pullBlobs(http.DefaultClient, p.url, "example.com/team/app", "1", blobs); err != nil {
			t.Fatal(err)
		}
		if !quiet {
			p.waitLine(t, fmt.Sprintf("ocitar serve: GET /v2/example.com/team/app/manifests/1 200 %d ", blobs[0].Size))
			p.waitLine(t, fmt.Sprintf("ocitar serve: GET /v2/example.com/team/app/blobs/%s 200 %d ", blobs[2].Digest, blobs[2].Size))
		}
		if status := p.stop(t, syscall.SIGTERM); status != 0 {
			t.Errorf("exit status %d", status)
		}
		if lines := p.stderr(); quiet && len(lines) != 1 || !quiet && len(lines) != 1+len(blobs) {
			t.Errorf("quiet %v: stderr %q", quiet, lines)
		}
	}
}

// TestServeStops: SIGINT and SIGTERM let a download under way finish, then exit 0.
func TestServeStops(t *testing.T) {
	path, blobs := writeImageArchive(t, filepath.Join(t.TempDir(), "app.tar"), "example.com/app:1", 1, 8<<20)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		p := startServe(t, "--quiet", path)
		resp, err := http.Get(p.url + "/v2/example.com/app/blobs/" + blobs[2].Digest.String())
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 4096)
		if _, err := io.ReadFull(resp.Body, head); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || digest.FromBytes(append(head, rest...)) != blobs[2].Digest {
			t.Errorf("%v: the download under way: %v, %d bytes", sig, err, len(head)+len(rest))
		}
		if status := p.wait(t); status != 0 {
			t.Errorf("%v: exit status %d: %q", sig, status, p.stderr())
		}
	}
}

// TestServeReload replaces the archive by a rename during a download: on
// SIGHUP the new image is served, the download completes from the old file,
// and an archive that cannot be opened leaves the last one served.
func TestServeReload(t *testing.T) {
	dir := t.TempDir()
	path, oldBlobs := writeImageArchive(t, filepath.Join(dir, "app.tar"), "example.com/app:1", 1, 8<<20)
	p := startServe(t, path)
	resp, err := http.Get(p.url + "/v2/example.com/app/blobs/" + oldBlobs[2].Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 4096)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	_, newBlobs := writeImageArchive(t, filepath.Join(dir, "next.tar"), "example.com/app:1", 2, 1<<20)
	if err := os.Rename(filepath.Join(dir, "next.tar"), path); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLine(t, "reloaded 1 archive")
	if err := pullBlobs(http.DefaultClient, p.url, "example.com/app", "1", newBlobs); err != nil {
		t.Errorf("after SIGHUP: %v", err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || digest.FromBytes(append(head, rest...)) != oldBlobs[2].Digest {
		t.Errorf("the download under way: %v, %d bytes", err, len(head)+len(rest))
	}

	if err := os.WriteFile(filepath.Join(dir, "broken.tar"), []byte("not a tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "broken.tar"), path); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLine(t, "still serving the archives opened before")
	if err := pullBlobs(http.DefaultClient, p.url, "example.com/app", "1", newBlobs); err != nil {
		t.Errorf("after a failed reload: %v", err)
	}
	if status := p.stop(t, syscall.SIGTERM); status != 0 {
		t.Errorf("exit status %d", status)
	}
}

// TestServeBadArguments: each mistake is one line on stderr and exit status 1.
func TestServeBadArguments(t *testing.T) {
	dir := t.TempDir()
	path, _ := writeImageArchive(t, filepath.Join(dir, "app.tar"), "example.com/app:1", 1, 1024)
	notTar := filepath.Join(dir, "not.tar")
	os.WriteFile(notTar, []byte("not a tar"), 0o644)
	badUsers := filepath.Join(dir, "users")
	os.WriteFile(badUsers, []byte("alice:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs=\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{}, "give an archive to serve, or --upstream"},
		{[]string{"--upstream", "ftp://127.0.0.1:1"}, "--upstream ftp://127.0.0.1:1"},
		{[]string{"--upstream", "http://127.0.0.1:1", "--upstream-creds", "secret-without-colon"}, "--upstream-creds entry 1 is not"},
		{[]string{"--upstream", "http://127.0.0.1:1", "--record", notTar}, notTar},
		{[]string{"--tls-cert", path, path}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", path, "--tls-key", path, path}, "loading --tls-cert"},
		{[]string{"--htpasswd", filepath.Join(dir, "missing"), path}, "--htpasswd"},
		{[]string{"--htpasswd", badUsers, path}, "not a bcrypt hash"},
		{[]string{"Bad=" + path}, `"Bad" is not a repository name`},
		{[]string{filepath.Join(dir, "missing.tar")}, "missing.tar"},
		{[]string{notTar}, notTar},
		{[]string{"--addr", "nowhere", path}, "nowhere"},
		{[]string{"--addr", "127.0.0.1:99999", path}, "99999"},
		{[]string{"--no-such-flag", path}, "no-such-flag"},
	}
	for _, c := range cases {
		status, _, stderr := ocitar(t, append([]string{"serve"}, c.args...)...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if status != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "ocitar: ") || !strings.Contains(lines[0], c.want) {
			t.Errorf("serve %q: exit %d, stderr %q; want one line with %q", c.args, status, stderr, c.want)
		}
	}
}
