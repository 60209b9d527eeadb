package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// recordedLine starts the line ocitar serve logs for each snapshot it wrote.
const recordedLine = "ocitar serve: recorded "

// recordWait bounds the wait for a snapshot's line.
const recordWait = 30 * time.Second

// TestRecordMirrorPull records what containerd (hosts.toml), docker
// (registry-mirrors) and podman (a registries.conf mirror) pull through
// ocitar serve --upstream --record: each gets the upstream's config and
// DiffIDs. On SIGTERM the recording holds every pulled image,
// the index whole with both platforms, under the names asked for, and its
// lock list says so, docker load takes it, and the blobs kept meanwhile are
// gone. Then, with the
// upstream stopped, ocitar serve of the recording alone serves the same
// pulls, the referrer of the index and the signature tag of the image, which
// no client asked for: the recording took them by itself.
func TestRecordMirrorPull(t *testing.T) {
	u := recordUpstreamStart(t, "")
	out := filepath.Join(t.TempDir(), "out.tar")
	upstream := "http://" + u.host
	s := serveStart(t, t.TempDir(), "--upstream", "example.com="+upstream, "--upstream", upstream, "--record", out)
	recordPullEvery(t, "through", u, recordMirrorOf(s.host))
	s.stop(t)
	if log := string(readFile(t, s.log)); !strings.Contains(log, recordedLine) || !strings.Contains(log, " to "+out) {
		t.Errorf("ocitar serve logged no %q line naming %s after SIGTERM:\n%s", recordedLine, out, log)
	}
	if _, err := os.Stat(out + ".blobs"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.blobs, the blobs pulled through, is still there after the final snapshot (%v)", out, err)
	}
	recordAssertArchive(t, u, out, map[string]string{
		"example.com/team/app:1":   u.app.manifest,
		"example.com/team/multi:1": u.multi,
		"library/sample:1":         u.hub.manifest,
	})

	u.stop(t)
	alone := serveStart(t, t.TempDir(), out)
	recordPullEvery(t, "recorded", u, recordMirrorOf(alone.host))
	recordAssertExtras(t, u, alone.host)
	recordAssertDockerLoads(t, u, out)
}

// recordAssertExtras checks what ocitar serve at host serves beside the
// images: the referrers API lists the referrer of the index, the tag list of
// the image holds its signature tag, and a GET of that tag is the signature.
func recordAssertExtras(t *testing.T, u *recordUpstream, host string) {
	t.Helper()
	base := "http://" + host + "/v2/example.com/team/"
	resp, body := recordRequest(t, base+"multi/referrers/"+u.multi, "", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ocispec.MediaTypeImageIndex {
		t.Errorf("GET %smulti/referrers/%s: %s (%s), want 200 and an index", base, u.multi, resp.Status, resp.Header.Get("Content-Type"))
	}
	recordAssertReferrers(t, "the referrers of "+u.multi+" from "+host, body, u.referrer)

	_, body = recordRequest(t, base+"app/tags/list", "", "")
	var tags struct{ Tags []string }
	if err := json.Unmarshal(body, &tags); err != nil || !slices.Contains(tags.Tags, "1") || !slices.Contains(tags.Tags, u.sigTag) {
		t.Errorf("GET %sapp/tags/list: want the tags 1 and %s, got (%v)\n%s", base, u.sigTag, err, body)
	}
	resp, body = recordRequest(t, base+"app/manifests/"+u.sigTag, "", "", recordManifestTypes...)
	if got := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode != http.StatusOK || got != u.signature || sha256Digest(body) != u.signature {
		t.Errorf("GET %sapp/manifests/%s: %s, Docker-Content-Digest %s, body %s; want the signature %s",
			base, u.sigTag, resp.Status, got, sha256Digest(body), u.signature)
	}
}

// recordAssertArchive checks the recording out and its lock list: they hold
// the images of want (name -> manifest or index digest), the index whole
// with both platforms, and nothing else but the referrer and the signature
// of u (an image asked for by digest after its tag resolved to it is that
// tag's; an image is named by the first name ls lists, the OCI one); and
// ocitar verify passes.
func recordAssertArchive(t *testing.T, u *recordUpstream, out string, want map[string]string) {
	t.Helper()
	allowed := map[string]string{"example.com/team/app:" + u.sigTag: u.signature}
	images := ls(t, out)
	for name, d := range want {
		if !recordListed(images, name, d) {
			t.Errorf("ocitar ls %s: no image %s with digest %s\n%+v", out, name, d, images)
		}
	}
	for _, img := range images {
		if img.Digest == u.referrer && len(img.Names) == 0 {
			continue
		}
		if name := img.Names[0]; want[name] != img.Digest && allowed[name] != img.Digest {
			t.Errorf("ocitar ls %s: %s names %s, which no client pulled (want %v)", out, name, img.Digest, want)
		}
		if img.Digest == u.multi && !slices.Equal(img.Platforms, []string{"linux/amd64", "linux/arm64/v8"}) {
			t.Errorf("ocitar ls %s: the index %s lists the platforms %v, want both of the upstream's", out, u.multi, img.Platforms)
		}
	}
	var lock struct{ Images map[string]string }
	readJSON(t, out+".lock.json", &lock)
	for name, d := range want {
		if lock.Images[name] != d {
			t.Errorf("%s.lock.json: %s is %q, want %s", out, name, lock.Images[name], d)
		}
	}
	for name, d := range lock.Images {
		if want[name] != d && allowed[name] != d {
			t.Errorf("%s.lock.json: %s -> %s, which no client pulled", out, name, d)
		}
	}
	run(t, ocitar, "verify", out)
}

// recordAssertDockerLoads checks that docker load takes the recording out,
// signature and all, and loads the pulled images with their configs and DiffIDs.
func recordAssertDockerLoads(t *testing.T, u *recordUpstream, out string) {
	t.Helper()
	d := dockerStartDaemon(t)
	d.run(t, "load", "-i", out)
	d.assertImage(t, "example.com/team/app:1", u.app.config, u.app.diffIDs)
	d.assertImage(t, "sample:1", u.hub.config, u.hub.diffIDs)
}

// recordListed reports whether images hold name with digest d.
func recordListed(images []lsImage, name, d string) bool {
	for _, img := range images {
		if img.Digest == d && slices.Contains(img.Names, name) {
			return true
		}
	}
	return false
}

// stop kills the upstream registry and waits until it is gone.
func (u *recordUpstream) stop(t *testing.T) {
	t.Helper()
	if err := u.cmd.Process.Kill(); err != nil {
		t.Fatalf("stopping docker-registry: %v", err)
	}
	<-u.exited
}

// TestRecordOneFetchPerBlob pulls one image with 8 crane clients at once
// through ocitar serve --record, whose upstream is a counting proxy in front
// of docker-registry: the proxy passed exactly one GET of each blob, also
// after the final snapshot, and every client got the upstream's config. The
// proxy holds the blobs' answers until every client has its manifest, so
// that the clients ask for each blob while its first fetch is under way.
func TestRecordOneFetchPerBlob(t *testing.T) {
	const clients = 8
	u := recordUpstreamStart(t, "")
	var manifests atomic.Int32
	pulled := make(chan struct{})
	counter := remoteTamperStart(t, "http://"+u.host, func(resp *http.Response) {
		switch path := resp.Request.URL.Path; {
		case resp.Request.Method == http.MethodGet && strings.HasSuffix(path, "/manifests/1"):
			if manifests.Add(1) == clients {
				close(pulled)
			}
		case strings.Contains(path, "/blobs/"):
			select {
			case <-pulled:
			case <-time.After(recordWait): // a client failed before its manifest: it says why
			}
		}
	})
	out := filepath.Join(t.TempDir(), "out.tar")
	s := serveStart(t, t.TempDir(), "--upstream", counter.url, "--record", out)
	recordCranePulls(t, clients, s.host+"/library/sample:1", u.hub)
	s.stop(t)
	for _, d := range u.hubBlobs {
		if n := counter.gets("/v2/library/sample/blobs/" + d); n != 1 {
			t.Errorf("the upstream got %d GETs of blob %s, want 1\n%s", n, d, counter.requestLog())
		}
	}
	if images := ls(t, out); !recordListed(images, "library/sample:1", u.hub.manifest) {
		t.Errorf("ocitar ls %s: no image library/sample:1 with digest %s: %+v", out, u.hub.manifest, images)
	}
}

// gets counts the GETs of path the counter passed.
func (c *remoteCounter) gets(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.log {
		if strings.HasPrefix(l, "GET "+path+" ") {
			n++
		}
	}
	return n
}

// recordCranePull pulls ref with crane into a tarball, which must hold img's
// config and DiffIDs.
func recordCranePull(t *testing.T, ref string, img serveImage) {
	t.Helper()
	recordCranePulls(t, 1, ref, img)
}

// recordCranePulls is recordCranePull by n crane processes at once (go
// test's -parallel, GOMAXPROCS by default, would run fewer subtests at once).
func recordCranePulls(t *testing.T, n int, ref string, img serveImage) {
	t.Helper()
	pulls := make([]*exec.Cmd, n)
	outputs := make([]bytes.Buffer, n)
	tarballs := make([]string, n)
	for i := range pulls {
		tarballs[i] = filepath.Join(t.TempDir(), "crane.tar")
		pulls[i] = command(t, []string{"HOME=" + t.TempDir()}, crane, "pull", "--insecure", ref, tarballs[i])
		pulls[i].Stdout, pulls[i].Stderr = &outputs[i], &outputs[i]
		if err := pulls[i].Start(); err != nil {
			t.Fatalf("starting crane: %v", err)
		}
	}
	for i, pull := range pulls {
		if err := pull.Wait(); err != nil {
			t.Errorf("crane failed: %v\n  command: %s\n  output: %s", err, commandLine(pull), outputs[i].String())
			continue
		}
		config, diffIDs := storageConfig(t, nil, "oci-tar:"+tarballs[i])
		serveAssertImage(t, "crane pull", ref, img, config, diffIDs)
	}
}

// TestRecordKilled: a SIGHUP writes a snapshot; an image pulled after it and
// a SIGKILL leave the snapshot and its lock list byte for byte as they were,
// and ocitar verify passes. --record-referrers=false keeps the signature tag
// out.
func TestRecordKilled(t *testing.T) {
	u := recordUpstreamStart(t, "")
	out := filepath.Join(t.TempDir(), "out.tar")
	s := serveStart(t, t.TempDir(), "--upstream", "http://"+u.host, "--record", out, "--record-referrers=false")
	recordCranePull(t, s.host+"/team/app:1", u.app)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLogged(t, recordedLine, 1)
	snapshot, lock := readFile(t, out), readFile(t, out+".lock.json")

	recordCranePull(t, s.host+"/library/sample:1", u.hub)
	s.kill(t)
	if !bytes.Equal(readFile(t, out), snapshot) {
		t.Errorf("%s changed after the snapshot and a SIGKILL", out)
	}
	if got := readFile(t, out+".lock.json"); !bytes.Equal(got, lock) {
		t.Errorf("%s.lock.json changed after the snapshot and a SIGKILL:\n%s\nwas:\n%s", out, got, lock)
	}
	want := fmt.Sprintf("{\"images\":{\"team/app:1\":%q}}", u.app.manifest)
	if got := string(bytes.Join(bytes.Fields(lock), nil)); got != want {
		t.Errorf("%s.lock.json: %s, want %s", out, lock, want)
	}
	if images := ls(t, out); len(images) != 1 || !recordListed(images, "team/app:1", u.app.manifest) {
		t.Errorf("ocitar ls %s: %+v, want only team/app:1 with digest %s", out, images, u.app.manifest)
	}
	run(t, ocitar, "verify", out)
}

// waitLogged polls the log until it holds n lines starting with prefix,
// for recordWait, and fails t if ocitar serve exits first.
func (s *serveServer) waitLogged(t *testing.T, prefix string, n int) {
	t.Helper()
	deadline := time.Now().Add(recordWait)
	for {
		count := 0
		for _, line := range strings.Split(string(readFile(t, s.log)), "\n") {
			if strings.HasPrefix(line, prefix) {
				count++
			}
		}
		if count >= n {
			return
		}
		select {
		case <-s.exited:
			t.Fatalf("ocitar serve exited before logging %d %q lines: %v\n%s", n, prefix, s.cmd.ProcessState, readFile(t, s.log))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ocitar serve logged no %d %q lines within %v:\n%s", n, prefix, recordWait, readFile(t, s.log))
		}
	}
}
