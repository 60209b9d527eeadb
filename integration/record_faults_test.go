package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// recordWrongPassword is the password of the case whose credentials the upstream refuses.
const recordWrongPassword = "Wrong-Secret-1b2d"

// recordFault is an upstream gone wrong, and what ocitar serve --record in
// front of it must do.
type recordFault struct {
	name     string
	upstream func(t *testing.T) (args []string, untouched *remoteCounter) // serve's flags; a proxy that must see no request
	probe    string                                                       // a path asked of ocitar serve, after /v2/
	status   int                                                          // its answer's status; 0: a body cut or wrong
	code     string                                                       // the error code of that answer, if any
	pulls    bool                                                         // crane pull of team/app:1 succeeds
	recorded []string                                                     // the names in the recording
}

// TestRecordFaults: an upstream unreachable, answering 5xx, corrupting a
// blob or refusing credentials gives the client an error and records
// nothing; a ?ns= or a name no upstream serves is NAME_UNKNOWN and contacts
// nothing; with --upstream-creds an upstream with htpasswd auth is pulled
// through. No log holds the password.
func TestRecordFaults(t *testing.T) {
	u := recordUpstreamStart(t, "")
	auth := recordUpstreamStart(t, recordAuthConfig(t))
	layer := u.appBlobs[len(u.appBlobs)-1]
	via := func(tamper func(*http.Response)) func(t *testing.T) ([]string, *remoteCounter) {
		return func(t *testing.T) ([]string, *remoteCounter) {
			return []string{"--upstream", remoteTamperStart(t, "http://"+u.host, tamper).url}, nil
		}
	}
	for _, tt := range []recordFault{
		{name: "unreachable", upstream: recordUnreachable, probe: "team/app/manifests/1", status: http.StatusBadGateway, code: "UNKNOWN"},
		{name: "5xx", upstream: via(recordAnswer503), probe: "team/app/blobs/" + layer, status: http.StatusBadGateway, code: "UNKNOWN"},
		{name: "corrupt-blob", upstream: via(recordCorrupt(layer)), probe: "team/app/blobs/" + layer},
		{name: "ns-without-upstream", upstream: recordNamedOnly(u), probe: "team/app/manifests/1?ns=other.example", status: http.StatusNotFound, code: "NAME_UNKNOWN"},
		{name: "name-without-upstream", upstream: recordNamedOnly(u), probe: "team/app/manifests/1", status: http.StatusNotFound, code: "NAME_UNKNOWN"},
		{name: "credentials", upstream: recordWithCreds(auth, recordPassword), probe: "team/app/manifests/1", status: http.StatusOK,
			pulls: true, recorded: []string{"team/app:1"}},
		{name: "wrong-credentials", upstream: recordWithCreds(auth, recordWrongPassword), probe: "team/app/manifests/1", status: http.StatusBadGateway, code: "UNKNOWN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, u)
		})
	}
}

// run starts ocitar serve --record in front of the fault's upstream, probes
// it, pulls team/app:1 with crane, stops it and checks the recording.
func (tt recordFault) run(t *testing.T, u *recordUpstream) {
	args, untouched := tt.upstream(t)
	out := filepath.Join(t.TempDir(), "out.tar")
	s := serveStart(t, t.TempDir(), append(args, "--record", out, "--record-referrers=false")...)
	status, code, body := recordProbe(t, "http://"+s.host+"/v2/"+tt.probe)
	if tt.status == 0 {
		if status == http.StatusOK && sha256Digest(body) == strings.TrimPrefix(tt.probe, "team/app/blobs/") {
			t.Errorf("GET /v2/%s: the corrupted blob was served whole and matching its digest", tt.probe)
		}
	} else if status != tt.status || code != tt.code {
		t.Errorf("GET /v2/%s: %d %s, want %d %s\n%s", tt.probe, status, code, tt.status, tt.code, body)
	}
	if status == http.StatusBadGateway && !strings.Contains(string(body), args[1]) {
		t.Errorf("GET /v2/%s: 502 %s, which does not name the upstream %s", tt.probe, body, args[1])
	}
	cmd := command(t, []string{"HOME=" + t.TempDir()}, crane, "pull", "--insecure", s.host+"/team/app:1", filepath.Join(t.TempDir(), "app.tar"))
	if msg, err := cmd.CombinedOutput(); (err == nil) != tt.pulls {
		t.Errorf("crane pull: %v, want success %v\n%s", err, tt.pulls, msg)
	}
	s.stop(t)
	if untouched != nil && untouched.requests.Load() != 0 {
		t.Errorf("the upstream got requests it should not have:\n%s", untouched.requestLog())
	}
	recordAssertNames(t, out, tt.recorded)
	remoteAssertNoSecrets(t, "ocitar serve's log", string(readFile(t, s.log)), recordSecrets())
	remoteAssertNoSecrets(t, "ocitar serve's answer", fmt.Sprintf("%d %s", status, body), recordSecrets())
}

// recordProbe is a GET of url: its status, the code of its first error if
// its body is an error list, and its body, however far it was read.
func recordProbe(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e struct{ Errors []struct{ Code string } }
	code := ""
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		code = e.Errors[0].Code
	}
	return resp.StatusCode, code, body
}

// recordAssertNames fails t unless the recording out holds the images
// named want and no other (by the first name ls lists, the OCI one: docker's
// manifest.json adds docker.io/ to a name without a registry); with none
// wanted, out may be missing.
func recordAssertNames(t *testing.T, out string, want []string) {
	t.Helper()
	if _, err := os.Stat(out); len(want) == 0 && os.IsNotExist(err) {
		return
	}
	var names []string
	for _, img := range ls(t, out) {
		if len(img.Names) > 0 {
			names = append(names, img.Names[0])
		}
	}
	if !sameSet(names, want) {
		t.Errorf("ocitar ls %s: names %v, want %v", out, names, want)
	}
}

// recordUnreachable is an upstream on a port nothing listens on.
func recordUnreachable(t *testing.T) ([]string, *remoteCounter) {
	return []string{"--upstream", "http://" + freeAddr(t)}, nil
}

// recordAnswer503 turns every answer about a blob into 503.
func recordAnswer503(resp *http.Response) {
	if strings.Contains(resp.Request.URL.Path, "/blobs/") {
		resp.Body.Close()
		resp.StatusCode, resp.Status = http.StatusServiceUnavailable, "503 Service Unavailable"
		resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader("overloaded\n")), -1
		resp.Header.Del("Content-Length")
	}
}

// recordCorrupt flips the first byte of blob d's body, keeping its length.
func recordCorrupt(d string) func(*http.Response) {
	return func(resp *http.Response) {
		if strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+d) {
			resp.Body = &recordFlipped{ReadCloser: resp.Body}
		}
	}
}

type recordFlipped struct {
	io.ReadCloser
	done bool
}

func (f *recordFlipped) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if n > 0 && !f.done {
		p[0] ^= 0xff
		f.done = true
	}
	return n, err
}

// recordNamedOnly is an upstream for example.com alone, behind a counter
// that must see nothing.
func recordNamedOnly(u *recordUpstream) func(t *testing.T) ([]string, *remoteCounter) {
	return func(t *testing.T) ([]string, *remoteCounter) {
		c := remoteCountStart(t, "http://"+u.host)
		return []string{"--upstream", "example.com=" + c.url}, c
	}
}

// recordWithCreds is the upstream with auth, its credentials given by flag.
func recordWithCreds(auth *recordUpstream, password string) func(t *testing.T) ([]string, *remoteCounter) {
	return func(t *testing.T) ([]string, *remoteCounter) {
		return []string{"--upstream", "http://" + auth.host, "--upstream-creds", recordUser + ":" + password}, nil
	}
}

// recordAuthConfig is docker-registry's configuration of htpasswd auth for
// recordUser, its file in a temporary directory.
func recordAuthConfig(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(recordPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(recordUser+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("auth:\n  htpasswd:\n    realm: ocitar-test\n    path: %s\n", path)
}

// recordSecrets are the passwords of the fault cases, as given and as a
// Basic Authorization header carries them.
func recordSecrets() []string {
	var secrets []string
	for _, p := range []string{recordPassword, recordWrongPassword} {
		secrets = append(secrets, p, base64.StdEncoding.EncodeToString([]byte(recordUser+":"+p)))
	}
	return secrets
}
