package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/ocitar/ocitar/source/remote"
)

// Remote archives (issue 20): the archive of TestServePull on nginx and in
// versitygw (an S3 endpoint, and a presigned URL of it), read in place by
// every command and served to the pulling clients.

// remoteForms are the forms of the archive the tests put on the servers
// (compressedForms by name): the plain tar, ocitar's .tar.zst and .tar.gz,
// a foreign gzip -6 and a single-frame zstd of k3s's kind.
var remoteForms = []string{"plain", "ocitar-zstd", "ocitar-gzip", "gzip-6", "k3s-zstd"}

// remoteFixture is the served archive in every form of remoteForms, as
// files nginx serves and objects of versitygw, uploaded by S3 PUT.
type remoteFixture struct {
	a     *serveArchive
	files map[string]string // form name: file name, on both servers
	nginx *remoteNginx
	s3    *remoteS3
}

func remoteFixtureMake(t *testing.T) *remoteFixture {
	t.Helper()
	dir := t.TempDir()
	f := &remoteFixture{a: serveArchiveMake(t, dir), files: map[string]string{}}
	root := filepath.Join(dir, "files")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, form := range compressedForms {
		if !slices.Contains(remoteForms, form.name) {
			continue
		}
		file := form.file
		if form.make == nil {
			file = "plain.tar"
			if err := os.WriteFile(filepath.Join(root, file), readFile(t, f.a.path), 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			form.make(t, f.a.path, filepath.Join(root, file))
		}
		f.files[form.name] = file
	}
	f.nginx = remoteNginxStart(t, root, "", "")
	f.s3 = remoteS3Start(t)
	for _, file := range f.files {
		f.s3.put(t, file, filepath.Join(root, file))
	}
	return f
}

// remoteAccess is one way to a file of the fixture: nginx, S3 or a presigned URL.
type remoteAccess struct {
	name     string
	location func(file string) string // the URL or s3:// location, without oci-tar:
	env      []string
	debug    bool // run ocitar with --debug, and check its output for secrets
}

func (f *remoteFixture) accesses(t *testing.T) []remoteAccess {
	return []remoteAccess{
		{name: "nginx", location: func(file string) string { return f.nginx.url + "/" + file }},
		{name: "s3", location: func(file string) string { return "s3://" + remoteBucket + "/" + file }, env: f.s3.env(t, remoteSecretKey), debug: true},
		{name: "presigned", location: func(file string) string { return f.s3.presign(t, file) }, env: []string{"HOME=" + t.TempDir()}, debug: true},
	}
}

// remoteTranscript collects everything ocitar printed, to be searched for secrets.
type remoteTranscript struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (tr *remoteTranscript) add(data ...[]byte) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, d := range data {
		tr.b.Write(d)
		tr.b.WriteByte('\n')
	}
}

func (tr *remoteTranscript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.b.String()
}

// remoteOcitar runs ocitar with env and args, adds its standard output and
// error to tr, and returns its standard output; the test fails unless it
// exits 0. The command line is not shown, since a presigned URL is a secret.
func remoteOcitar(t *testing.T, tr *remoteTranscript, env []string, args ...string) []byte {
	t.Helper()
	stdout, stderr, err := remoteOcitarResult(t, tr, env, args...)
	if err != nil {
		t.Fatalf("ocitar %s failed: %v\n  stderr: %s", remoteArgs(args), err, stderr)
	}
	return stdout
}

// remoteOcitarFailing runs ocitar, which must exit 1 with one line of
// standard error, and returns the line.
func remoteOcitarFailing(t *testing.T, tr *remoteTranscript, env []string, args ...string) string {
	t.Helper()
	_, stderr, err := remoteOcitarResult(t, tr, env, args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("ocitar %s: want exit status 1, got %v\n  stderr: %s", remoteArgs(args), err, stderr)
	}
	line := strings.TrimSuffix(string(stderr), "\n")
	t.Logf("ocitar %s: %s", remoteArgs(args), line)
	if line == "" || strings.Contains(line, "\n") {
		t.Errorf("ocitar %s printed %q, want one line", remoteArgs(args), stderr)
	}
	return line
}

func remoteOcitarResult(t *testing.T, tr *remoteTranscript, env []string, args ...string) ([]byte, []byte, error) {
	t.Helper()
	// A cache of its own, unless args give --cache-dir: blobs cached by an
	// earlier run would hide requests.
	cmd := command(t, append([]string{"XDG_CACHE_HOME=" + t.TempDir()}, env...), ocitar, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	tr.add(stdout.Bytes(), stderr.Bytes())
	return stdout.Bytes(), stderr.Bytes(), err
}

// remoteSecrets are the strings no output may hold: the secret key, a
// session token, and the signature and credential of each presigned URL.
func remoteSecrets(t *testing.T, urls ...string) []string {
	secrets := []string{remoteSecretKey, remoteSessionToken, "X-Amz-Signature", "X-Amz-Credential"}
	for _, u := range urls {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		q := parsed.Query()
		for _, k := range []string{"X-Amz-Signature", "X-Amz-Credential"} {
			if v := q.Get(k); v != "" {
				secrets = append(secrets, v, url.QueryEscape(v))
			}
		}
	}
	return secrets
}

// remoteSessionToken is the session token of the case that sets one.
const remoteSessionToken = "OcitarTestSessionToken//FwoGZXIvYXdzEXAMPLE"

// remoteAssertNoSecrets fails t if what holds any of secrets.
func remoteAssertNoSecrets(t *testing.T, name, what string, secrets []string) {
	t.Helper()
	if what == "" {
		t.Errorf("%s is empty: nothing was captured to search for secrets", name)
	}
	for _, s := range secrets {
		if i := strings.Index(what, s); i >= 0 {
			t.Errorf("%s holds the secret %q: ...%s...", name, s, what[max(i-200, 0):min(i+len(s)+50, len(what))])
		}
	}
}

// remoteTree lists the files under dir with their modes and sizes.
func remoteTree(t *testing.T, dir string) []string {
	t.Helper()
	var tree []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size := info.Size()
		if d.IsDir() {
			size = 0
		}
		tree = append(tree, strings.TrimPrefix(path, dir)+" "+info.Mode().String()+" "+strconv.FormatInt(size, 10))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestRemoteCommands reads the archive in every form of remoteForms from
// nginx, from versitygw as s3://, and from versitygw by a presigned URL,
// with ls (the archive's image digests), verify, inspect (config digest and
// DiffIDs of an image and of an index's linux/amd64 image), copy to dir:
// (the config and DiffIDs skopeo's layout holds) and unpack (the same tree
// as an unpack of the local file). The S3 and presigned cases run with
// --debug, and nothing ocitar printed may hold the secret key or a
// presigned URL's signature or credential.
func TestRemoteCommands(t *testing.T) {
	f := remoteFixtureMake(t)
	var want []string
	for _, img := range ls(t, f.a.path) {
		want = append(want, img.Digest)
	}
	local := filepath.Join(t.TempDir(), "rootfs")
	run(t, ocitar, "unpack", "oci-tar:"+f.a.path+":"+f.a.app.name, local)
	wantTree := remoteTree(t, local)

	var tr remoteTranscript
	var urls []string
	for _, acc := range f.accesses(t) {
		for _, form := range remoteForms {
			t.Run(acc.name+"/"+form, func(t *testing.T) {
				loc := acc.location(f.files[form])
				urls = append(urls, loc)
				flags := []string{"--cache-dir", t.TempDir()}
				if acc.debug {
					flags = append(flags, "--debug")
				}
				cmd := func(args ...string) []byte {
					return remoteOcitar(t, &tr, acc.env, append(slices.Clone(flags), args...)...)
				}

				var images []lsImage
				if err := json.Unmarshal(cmd("ls", "--json", loc), &images); err != nil {
					t.Fatalf("ocitar ls --json: %v", err)
				}
				var got []string
				for _, img := range images {
					got = append(got, img.Digest)
				}
				if !slices.Equal(got, want) {
					t.Errorf("ocitar ls %s lists %v, want the local archive's %v", acc.name, got, want)
				}

				cmd("verify", loc)

				for _, img := range []serveImage{f.a.app, f.a.multi, f.a.hub} {
					raw := cmd(append(append([]string{"inspect"}, img.choose...), "--config", "--raw", "oci-tar:"+loc+":"+img.name)...)
					config, diffIDs := configOf(t, raw)
					serveAssertImage(t, "ocitar inspect", acc.name+" "+img.name, img, config, diffIDs)
				}

				out := filepath.Join(t.TempDir(), "image")
				cmd("copy", "--insecure-policy", "-q", "oci-tar:"+loc+":"+f.a.app.name, "dir:"+out)
				config, diffIDs := readDirImage(t, out)
				serveAssertImage(t, "ocitar copy", acc.name+" to dir:", f.a.app, config, diffIDs)

				rootfs := filepath.Join(t.TempDir(), "rootfs")
				cmd("unpack", "oci-tar:"+loc+":"+f.a.app.name, rootfs)
				if got := remoteTree(t, rootfs); !slices.Equal(got, wantTree) {
					t.Errorf("ocitar unpack %s: tree %v, want the local unpack's %v", acc.name, got, wantTree)
				}
			})
		}
	}
	remoteAssertNoSecrets(t, "the output of every ocitar command", tr.String(), remoteSecrets(t, urls...))
}

// TestRemoteServePull serves the plain tar from each server with ocitar
// serve (--debug for S3 and the presigned URL) and pulls it with skopeo,
// podman, containerd (by name, and as a mirror in a hosts.toml) and
// containerd's CRI plugin with crictl (as a mirror), checking
// config digests and DiffIDs; the serve logs hold no secret.
func TestRemoteServePull(t *testing.T) {
	f := remoteFixtureMake(t)
	for _, acc := range f.accesses(t) {
		t.Run(acc.name, func(t *testing.T) {
			loc := acc.location(f.files["plain"])
			dir := t.TempDir()
			args := []string{"--cache-dir", t.TempDir()}
			if acc.debug {
				args = append(args, "--debug")
			}
			s := serveStartEnv(t, dir, acc.env, append(args, loc)...)
			t.Run("pull", func(t *testing.T) { servePullWith(t, f.a, s.host, "skopeo", "podman", "containerd", "crictl") })
			if acc.debug {
				remoteAssertNoSecrets(t, "the log of ocitar serve", string(readFile(t, s.log)), remoteSecrets(t, loc))
			}
		})
	}
}

// configOf is the digest of the config raw and its DiffIDs.
func configOf(t *testing.T, raw []byte) (string, []string) {
	t.Helper()
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &config); err != nil {
		t.Fatalf("an image config: %v\n%s", err, raw)
	}
	return sha256Digest(raw), config.RootFS.DiffIDs
}

// TestRemoteFaults: each fault is one line naming the location, and exit
// status 1; none prints a secret.
func TestRemoteFaults(t *testing.T) {
	f := remoteFixtureMake(t)
	plain := f.files["plain"]
	var tr remoteTranscript
	secrets := remoteSecrets(t)
	root := filepath.Dir(f.a.path) + "/files"

	t.Run("no-range", func(t *testing.T) {
		// python3's http.server answers a ranged GET with 200 and the whole file.
		u := remotePython(t, root) + "/" + plain
		line := remoteOcitarFailing(t, &tr, nil, "ls", u)
		if !strings.Contains(line, u) || !strings.Contains(strings.ToLower(line), "range") || !strings.Contains(line, "--download-if-no-range") {
			t.Errorf("ocitar ls of a server without Range printed %q, want one line naming %s, Range and --download-if-no-range", line, u)
		}
		// With --download-if-no-range, the archive is downloaded whole into the cache, once per open.
		cacheDir := t.TempDir()
		listed := remoteOcitar(t, &tr, nil, "--cache-dir", cacheDir, "--download-if-no-range", "ls", u)
		if !strings.Contains(string(listed), f.a.app.name) {
			t.Errorf("ocitar ls --download-if-no-range listed %q, want %s", listed, f.a.app.name)
		}
		out := filepath.Join(t.TempDir(), "image")
		remoteOcitar(t, &tr, nil, "--cache-dir", cacheDir, "--download-if-no-range", "copy", "--insecure-policy", "-q", "oci-tar:"+u+":"+f.a.app.name, "dir:"+out)
		config, diffIDs := readDirImage(t, out)
		serveAssertImage(t, "ocitar copy --download-if-no-range", u, f.a.app, config, diffIDs)
		remoteOcitar(t, &tr, nil, "--cache-dir", cacheDir, "--download-if-no-range", "verify", u)
		whole := filepath.Join(cacheDir, "blobs/sha256", digest.FromBytes(readFile(t, filepath.Join(root, plain))).Encoded())
		if _, err := os.Stat(whole); err != nil {
			t.Errorf("--cache-dir does not hold the archive downloaded whole: %v", err)
		}
	})
	t.Run("404-nginx", func(t *testing.T) {
		u := f.nginx.url + "/missing.tar"
		if line := remoteOcitarFailing(t, &tr, nil, "ls", u); !strings.Contains(line, u) || !strings.Contains(line, "404") && !strings.Contains(strings.ToLower(line), "not found") {
			t.Errorf("ocitar ls of a missing file printed %q, want one line naming %s and not found", line, u)
		}
	})
	t.Run("404-s3", func(t *testing.T) {
		u := "s3://" + remoteBucket + "/missing.tar"
		if line := remoteOcitarFailing(t, &tr, f.s3.env(t, remoteSecretKey), "ls", u); !strings.Contains(line, u) || !strings.Contains(line, "404") && !strings.Contains(strings.ToLower(line), "not found") {
			t.Errorf("ocitar ls of a missing object printed %q, want one line naming %s and not found", line, u)
		}
	})
	t.Run("403-wrong-secret", func(t *testing.T) {
		u := "s3://" + remoteBucket + "/" + plain
		wrong := remoteSecretKey + "wrong"
		line := remoteOcitarFailing(t, &tr, f.s3.env(t, wrong), "--debug", "ls", u)
		if !strings.Contains(line, u) {
			t.Errorf("ocitar ls with a wrong secret key printed %q, want one line naming %s", line, u)
		}
	})
	t.Run("session-token", func(t *testing.T) {
		// versitygw has no session tokens: it refuses one (400 InvalidToken),
		// and the error, with --debug, never shows the token.
		u := "s3://" + remoteBucket + "/" + plain
		env := append(f.s3.env(t, remoteSecretKey), "AWS_SESSION_TOKEN="+remoteSessionToken)
		if line := remoteOcitarFailing(t, &tr, env, "--debug", "ls", u); !strings.Contains(line, u) {
			t.Errorf("ocitar ls with a session token versitygw refuses printed %q, want one line naming %s", line, u)
		}
	})
	t.Run("presigned-404", func(t *testing.T) {
		u := f.s3.presign(t, "missing.tar")
		secrets = append(secrets, remoteSecrets(t, u)...)
		line := remoteOcitarFailing(t, &tr, nil, "--debug", "ls", u)
		if !strings.Contains(line, f.s3.endpoint+"/"+remoteBucket+"/missing.tar") {
			t.Errorf("ocitar ls of a presigned URL of a missing object printed %q, want one line naming it without its query", line)
		}
	})
	t.Run("bad-certificate", func(t *testing.T) {
		certs := t.TempDir()
		cert, key := remoteCert(t, t.TempDir())
		if err := os.WriteFile(filepath.Join(certs, "ca.crt"), readFile(t, cert), 0o644); err != nil {
			t.Fatal(err)
		}
		n := remoteNginxStart(t, root, cert, key)
		u := n.url + "/" + plain
		if line := remoteOcitarFailing(t, &tr, nil, "ls", u); !strings.Contains(line, u) {
			t.Errorf("ocitar ls of a server whose certificate does not verify printed %q, want one line naming %s", line, u)
		}
		remoteOcitar(t, &tr, nil, "ls", "--cert-dir", certs, u)
		remoteOcitar(t, &tr, nil, "ls", "--tls-verify=false", u)
		out := filepath.Join(t.TempDir(), "image")
		remoteOcitar(t, &tr, nil, "copy", "--insecure-policy", "-q", "--src-cert-dir", certs, "oci-tar:"+u+":"+f.a.app.name, "dir:"+out)
		config, diffIDs := readDirImage(t, out)
		serveAssertImage(t, "ocitar copy --src-cert-dir", u, f.a.app, config, diffIDs)
	})
	remoteAssertNoSecrets(t, "the output of ocitar's failures", tr.String(), secrets)
}

// remoteIndexRequests is what indexing the tar at path by windows of
// window bytes may take (source/remote's doc): the first request, one per
// entry larger than a window, and one per window's worth of the rest.
func remoteIndexRequests(t *testing.T, path string, window int64) int64 {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tr := tar.NewReader(file)
	requests, rest := int64(1), fileSize(t, path)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return requests + rest/window
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if hdr.Size > window {
			requests++
			rest -= (hdr.Size + 511) &^ 511
		}
	}
}

// remoteWindow is the read-ahead window of source/remote.
const remoteWindow = remote.DefaultWindow

// TestRemoteCounting puts a counting proxy between ocitar and nginx:
// indexing a plain tar (ocitar ls) takes at most 1 + the number of its
// entries larger than the read-ahead window requests (and one per
// window's worth of its small entries, which in these archives are less
// than one); inspect of the image of a 256 MiB archive moves at most
// 2 MiB, with an empty cache and with the cache an ls filled; a pull
// through ocitar serve moves each blob once; a copy through a proxy that
// cuts the connection every 3 MiB completes by resuming.
func TestRemoteCounting(t *testing.T) {
	large := largeArchive(t, 256)
	want := serveImage{name: largeImage}
	want.config, want.diffIDs = storageConfig(t, nil, "oci-tar:"+large)
	blobs := serveManifestBlobs(t, "oci-tar:"+large+":"+largeImage)
	dir := t.TempDir()
	a := serveArchiveMake(t, dir)
	root := filepath.Join(dir, "files")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{large, a.path} {
		if err := os.Link(p, filepath.Join(root, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	n := remoteNginxStart(t, root, "", "")
	c := remoteCountStart(t, n.url)
	var tr remoteTranscript

	for _, p := range []string{large, a.path} {
		c.reset()
		remoteOcitar(t, &tr, nil, "ls", c.url+"/"+filepath.Base(p))
		limit := remoteIndexRequests(t, p, remoteWindow)
		t.Logf("ocitar ls %s (%d MiB): %d requests, %d bytes (limit %d requests of a %d KiB window)", filepath.Base(p), fileSize(t, p)>>20, c.requests.Load(), c.bytes.Load(), limit, remoteWindow>>10)
		if got := c.requests.Load(); got > limit {
			t.Errorf("ocitar ls %s made %d requests, want at most %d (1 + entries larger than the window):\n%s", filepath.Base(p), got, limit, c.requestLog())
		}
	}

	cacheDir := t.TempDir()
	inspect := []string{"--cache-dir", cacheDir, "inspect", "--config", "--raw", "oci-tar:" + c.url + "/" + filepath.Base(large) + ":" + largeImage}
	for _, run := range []struct{ name, before string }{
		{"an empty cache", ""},
		{"the cache an ls filled", "ls"},
	} {
		if run.before != "" {
			remoteOcitar(t, &tr, nil, "--cache-dir", cacheDir, run.before, c.url+"/"+filepath.Base(large))
		}
		c.reset()
		raw := remoteOcitar(t, &tr, nil, inspect...)
		config, diffIDs := configOf(t, raw)
		serveAssertImage(t, "ocitar inspect", "through the counting proxy with "+run.name, want, config, diffIDs)
		t.Logf("ocitar inspect of the image of %d MiB with %s: %d requests, %d bytes", fileSize(t, large)>>20, run.name, c.requests.Load(), c.bytes.Load())
		if got := c.bytes.Load(); got > 2<<20 {
			t.Errorf("ocitar inspect with %s moved %d bytes, want at most 2 MiB:\n%s", run.name, got, c.requestLog())
		}
	}

	t.Run("pull", func(t *testing.T) {
		s := serveStart(t, t.TempDir(), "--cache-dir", t.TempDir(), c.url+"/"+filepath.Base(large))
		afterIndex := c.bytes.Load()
		c.reset()
		out := filepath.Join(t.TempDir(), "image")
		ref := "docker://" + s.host + "/" + largeImage
		run(t, skopeo, "--insecure-policy", "copy", "-q", "--src-tls-verify=false", ref, "dir:"+out)
		config, diffIDs := readDirImage(t, out)
		serveAssertImage(t, "skopeo copy", ref, want, config, diffIDs)
		var sum int64
		for _, b := range blobs {
			sum += fileSize(t, filepath.Join(out, strings.TrimPrefix(b, "sha256:")))
		}
		t.Logf("ocitar serve: opening moved %d bytes; skopeo's pull of %d blobs (%d bytes): %d requests, %d bytes", afterIndex, len(blobs), sum, c.requests.Load(), c.bytes.Load())
		// The config and the manifest may come from windows read when the archive was opened.
		if got := c.bytes.Load(); got < sum-remoteWindow || got > sum+remoteWindow {
			t.Errorf("a pull of blobs of %d bytes moved %d bytes from nginx, want each blob once:\n%s", sum, got, c.requestLog())
		}
	})

	t.Run("cut", func(t *testing.T) {
		cut := remoteCutStart(t, strings.TrimPrefix(n.url, "http://"), 3<<20)
		out := filepath.Join(t.TempDir(), "image")
		remoteOcitar(t, &tr, nil, "copy", "--insecure-policy", "-q", "oci-tar:http://"+cut.addr+"/"+filepath.Base(large)+":"+largeImage, "dir:"+out)
		config, diffIDs := readDirImage(t, out)
		serveAssertImage(t, "ocitar copy", "through a proxy that cuts every 3 MiB", want, config, diffIDs)
		t.Logf("ocitar copy of %d MiB through the cutting proxy: %d connections cut", fileSize(t, large)>>20, cut.cuts.Load())
		if cut.cuts.Load() == 0 {
			t.Errorf("the proxy cut no connection")
		}
	})
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// remotePull is skopeo copying ref to a new dir: under t.TempDir(), from a
// goroutine: it returns the directory, or skopeo's error and output.
func remotePull(t *testing.T, ref string) (string, error) {
	out := filepath.Join(t.TempDir(), "image")
	cmd := command(t, nil, skopeo, "--insecure-policy", "copy", "-q", "--src-tls-verify=false", ref, "dir:"+out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, bytes.TrimSpace(msg))
	}
	return out, nil
}

// TestRemoteOverwrite re-uploads the object ocitar serve serves, with
// another archive, while skopeo pulls from it in four loops: every pull
// that succeeded holds the old image, verified (skopeo checks each blob's
// digest; its config and DiffIDs are the old image's), and the others
// failed. Without a SIGHUP, ocitar serve finds the change, logs it and
// serves the new archive's image. Twice: during the first pull, whose
// reads of the old object fail, and once a pull has put every blob into
// the cache, so that the pulls under way succeed and serve finds the
// change when asked for the new image.
func TestRemoteOverwrite(t *testing.T) {
	large := largeArchive(t, 64)
	old := serveImage{name: largeImage}
	old.config, old.diffIDs = storageConfig(t, nil, "oci-tar:"+large)
	a := serveArchiveMake(t, t.TempDir())
	s3 := remoteS3Start(t)
	s3.put(t, "moving.tar", large)
	s := serveStartEnv(t, t.TempDir(), s3.env(t, remoteSecretKey), "--cache-dir", t.TempDir(), "s3://"+remoteBucket+"/moving.tar")
	blobServed := func(int) bool { return bytes.Contains(readFile(t, s.log), []byte("/blobs/")) }
	onePulled := func(pulled int) bool { return pulled > 0 }

	for _, phase := range []struct {
		name        string
		from, to    serveImage
		upload      string // the archive put in place of the object
		ready       func(pulled int) bool
		mustSucceed bool
	}{
		{"during the first pull", old, a.app, a.path, blobServed, false},
		{"with every blob in the cache", a.app, old, large, onePulled, true},
	} {
		pulled := remotePullsAcross(t, "docker://"+s.host+"/"+phase.from.name, phase.ready, func() { s3.put(t, "moving.tar", phase.upload) })
		if phase.mustSucceed && len(pulled) == 0 {
			t.Errorf("%s: no pull succeeded", phase.name)
		}
		for _, out := range pulled {
			config, diffIDs := readDirImage(t, out)
			serveAssertImage(t, "skopeo copy", phase.from.name+" while the object was replaced "+phase.name, phase.from, config, diffIDs)
		}
		remotePollImage(t, s, phase.to)
	}
	changed := "ocitar serve: s3://" + remoteBucket + "/moving.tar: the object changed since it was opened; reopening it\n"
	log := readFile(t, s.log)
	if bytes.Count(log, []byte(changed)) != 2 {
		t.Errorf("ocitar serve's log has not twice the line %q:\n%s", changed, log)
	}
	remoteAssertNoSecrets(t, "the log of ocitar serve, which reopened the object", string(log), remoteSecrets(t))
}

// remotePullsAcross pulls ref with skopeo in four loops, as issue 20 asks
// of an overwrite "while 4 pulls run"; once ready says so
// (from the number of pulls that succeeded), it calls change, and the loops
// go on until four pulls have begun after it. It returns the directories
// of the pulls that succeeded.
func remotePullsAcross(t *testing.T, ref string, ready func(pulled int) bool, change func()) []string {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		pulled   []string
		failures []string
		changed  atomic.Bool
		after    atomic.Int64 // pulls begun after the change
	)
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 40 && after.Load() < 4; i++ {
				began := changed.Load()
				out, err := remotePull(t, ref)
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					pulled = append(pulled, out)
				}
				mu.Unlock()
				if began {
					after.Add(1)
				}
			}
		})
	}
	succeeded := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(pulled)
	}
	for deadline := time.Now().Add(time.Minute); !ready(succeeded()); {
		if time.Now().After(deadline) {
			t.Fatalf("pulling %s: not ready to change the object within a minute", ref)
		}
		<-time.After(50 * time.Millisecond)
	}
	change()
	changed.Store(true)
	wg.Wait()
	t.Logf("%s: %d pulls succeeded, %d failed: %v", ref, len(pulled), len(failures), failures)
	return pulled
}

// remotePollImage pulls img from ocitar serve until it succeeds, verified,
// or a minute has passed.
func remotePollImage(t *testing.T, s *serveServer, img serveImage) {
	t.Helper()
	ref := "docker://" + s.host + "/" + img.name
	for deadline := time.Now().Add(time.Minute); ; {
		out, err := remotePull(t, ref)
		if err == nil {
			config, diffIDs := readDirImage(t, out)
			serveAssertImage(t, "skopeo copy", ref+" after the re-upload", img, config, diffIDs)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ocitar serve did not serve the new object's %s: %v\n%s", ref, err, readFile(t, s.log))
		}
		<-time.After(100 * time.Millisecond)
	}
}

// TestRemoteManyNodes runs three ocitar serve instances over one s3://
// bundle, each with its own --cache-dir and a counting proxy between it
// and versitygw, and pulls the bundle's 64 MiB image with 12 concurrent
// skopeo clients, four per instance: every pull is verified, and each
// instance fetches each blob from S3 once.
func TestRemoteManyNodes(t *testing.T) {
	large := largeArchive(t, 64)
	want := serveImage{name: largeImage}
	want.config, want.diffIDs = storageConfig(t, nil, "oci-tar:"+large)
	s3 := remoteS3Start(t)
	s3.put(t, "bundle.tar", large)
	type node struct {
		c    *remoteCounter
		host string
	}
	var nodes []node
	for range 3 {
		c := remoteCountStart(t, s3.endpoint)
		env := append(s3.env(t, remoteSecretKey), "AWS_ENDPOINT_URL="+c.url)
		s := serveStartEnv(t, t.TempDir(), env, "--quiet", "--cache-dir", t.TempDir(), "s3://"+remoteBucket+"/bundle.tar")
		t.Cleanup(func() {
			remoteAssertNoSecrets(t, "the log of ocitar serve", string(readFile(t, s.log)), remoteSecrets(t))
		})
		nodes = append(nodes, node{c, s.host})
	}
	var wg sync.WaitGroup
	outs, errs := make([]string, 12), make([]error, 12)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = remotePull(t, "docker://"+nodes[i%3].host+"/"+largeImage)
		}()
	}
	wg.Wait()
	for i := range 12 {
		if errs[i] != nil {
			t.Errorf("pull #%d from node %d: %v", i, i%3, errs[i])
			continue
		}
		config, diffIDs := readDirImage(t, outs[i])
		serveAssertImage(t, "skopeo copy", "from node "+strconv.Itoa(i%3), want, config, diffIDs)
	}
	// Opening reads a window at the start and at each large entry's header
	// (TestRemoteCounting); then each blob comes once, those larger than a
	// window by a request of their own.
	size := fileSize(t, large)
	windows := remoteIndexRequests(t, large, remoteWindow)
	for i, n := range nodes {
		t.Logf("node %d: %d requests, %d bytes from S3 (the bundle: %d bytes, %d windows of opening)", i, n.c.requests.Load(), n.c.bytes.Load(), size, windows)
		if got := n.c.bytes.Load(); got > size+windows*remoteWindow || n.c.requests.Load() > 2*windows-1 {
			t.Errorf("node %d fetched %d bytes in %d requests from S3 for 4 pulls of a bundle of %d, want each blob once, after the %d windows of opening:\n%s",
				i, got, n.c.requests.Load(), size, windows, n.c.requestLog())
		}
	}
}

// remoteArgs is args for a message, each cut at its query string, which
// in a presigned URL is a secret.
func remoteArgs(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		words[i], _, _ = strings.Cut(a, "?")
	}
	return strings.Join(words, " ")
}
