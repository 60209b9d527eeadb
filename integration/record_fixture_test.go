package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The upstream of the recording-mirror tests (issue 23): a docker-registry
// holding, pushed by ocitar copy and regctl from testdata, an image, a
// docker.io-style image, a two-platform index with a referrer and a
// cosign-style signature tag, and the digests each client must end up with.

// recordManifestTypes are the manifest media types a client accepts.
var recordManifestTypes = []string{
	ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
	"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
}

// The artifact types of the upstream's referrer and signature.
const (
	recordReferrerType  = "application/vnd.ocitar.test.attestation"
	recordSignatureType = "application/vnd.dev.cosign.simplesigning.v1+json"
)

// recordUpstream is the upstream registry and what it holds. Each
// serveImage's name is its repository and tag in the upstream.
type recordUpstream struct {
	*registryServer
	app        serveImage // team/app:1, an OCI image
	hub        serveImage // library/sample:1, a docker v2s2 image under a docker.io path
	multi      string     // the digest of team/multi:1, an index of linux/amd64 and linux/arm64
	amd64      serveImage // its platform images, by manifest digest
	arm64      serveImage
	appBlobs   []string // the config and layers of app's manifest
	hubBlobs   []string // and of hub's
	referrer   string   // the digest of an artifact manifest whose subject is multi
	signature  string   // the digest of the manifest tagged sigTag in team/app
	sigTag     string   // sha256-HEX.sig of app's manifest
	regctlHome string   // the HOME of regctl's configuration
}

// recordUpstreamStart starts a docker-registry on a free port and fills it;
// extra is added to its configuration (auth).
func recordUpstreamStart(t *testing.T, extra string) *recordUpstream {
	t.Helper()
	u := &recordUpstream{registryServer: registryStartConfig(t, extra), regctlHome: t.TempDir()}
	u.push(t)
	return u
}

// push fills the registry with the fixture, anonymously or with the
// credentials of the auth it was started with (recordUser).
func (u *recordUpstream) push(t *testing.T) {
	t.Helper()
	creds := []string{"--dest-creds", recordUser + ":" + recordPassword}
	for _, p := range []struct{ file, repo string }{
		{"peers/b-oci-one.skopeo.tar", "team/app:1"},
		{"sample.docker.tar", "library/sample:1"},
		{"sample-multi.oci.tar", "team/multi:1"},
	} {
		args := append([]string{"copy", "--insecure-policy", "-q", "--all", "--preserve-digests", "--dest-tls-verify=false"}, creds...)
		run(t, ocitar, append(args, "oci-tar:"+testdata(p.file), u.ref(p.repo))...)
	}
	u.app, u.appBlobs = u.image(t, "team/app", "1")
	u.hub, u.hubBlobs = u.image(t, "library/sample", "1")
	u.multi = u.index(t, "team/multi", "1")
	u.referrer = u.artifact(t, "team/multi@"+u.multi, "{}", "--by-digest", "--artifact-type", recordReferrerType, "--config-type", ocispec.MediaTypeEmptyJSON, "--subject", u.host+"/team/multi@"+u.multi)
	u.sigTag = strings.Replace(u.app.manifest, ":", "-", 1) + ".sig"
	u.artifact(t, "team/app:"+u.sigTag, recordSignatureConfig, "--config-type", ocispec.MediaTypeImageConfig, "--file-media-type", recordSignatureType)
	body, _ := u.get(t, "/v2/team/app/manifests/"+u.sigTag, recordManifestTypes...)
	u.signature = sha256Digest(body)
}

// The user of the upstreams started with auth, and its password.
const (
	recordUser     = "puller"
	recordPassword = "Upstream-Secret-7f3c9a"
)

// image reads repo:ref's manifest, config and DiffIDs from the registry; it
// returns them and the manifest's config and layer digests.
func (u *recordUpstream) image(t *testing.T, repo, ref string) (serveImage, []string) {
	t.Helper()
	body, _ := u.get(t, "/v2/"+repo+"/manifests/"+ref, recordManifestTypes...)
	var m ocispec.Manifest
	if err := json.Unmarshal(body, &m); err != nil || m.Config.Digest == "" {
		t.Fatalf("upstream %s:%s: no image manifest (%v)\n%s", repo, ref, err, body)
	}
	img := serveImage{name: repo + ":" + ref, manifest: sha256Digest(body)}
	config, _ := u.get(t, "/v2/"+repo+"/blobs/"+m.Config.Digest.String())
	img.config, img.diffIDs = configOf(t, config)
	blobs := []string{m.Config.Digest.String()}
	for _, l := range m.Layers {
		blobs = append(blobs, l.Digest.String())
	}
	return img, blobs
}

// index reads the index repo:ref, fills u.amd64 and u.arm64 from its
// platform manifests and returns its digest.
func (u *recordUpstream) index(t *testing.T, repo, ref string) string {
	t.Helper()
	body, _ := u.get(t, "/v2/"+repo+"/manifests/"+ref, recordManifestTypes...)
	var index ocispec.Index
	if err := json.Unmarshal(body, &index); err != nil || len(index.Manifests) != 2 {
		t.Fatalf("upstream %s:%s: want an index of two platforms (%v)\n%s", repo, ref, err, body)
	}
	for _, m := range index.Manifests {
		img, _ := u.image(t, repo, m.Digest.String())
		img.name = repo + ":" + ref + " " + m.Platform.OS + "/" + m.Platform.Architecture
		switch m.Platform.Architecture {
		case "amd64":
			img.choose = []string{"--override-arch", "amd64", "--override-os", "linux"}
			u.amd64 = img
		case "arm64":
			u.arm64 = img
		}
	}
	if u.amd64.manifest == "" || u.arm64.manifest == "" {
		t.Fatalf("upstream %s:%s: want linux/amd64 and linux/arm64\n%s", repo, ref, body)
	}
	return sha256Digest(body)
}

// recordPayload is the one file of the upstream's artifacts.
const recordPayload = `{"critical":{"image":{}}}`

// recordSignatureConfig is the config of a cosign signature: an image config
// whose only layer is recordPayload, the simple-signing JSON.
var recordSignatureConfig = fmt.Sprintf(`{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],`+
	`"os":"","rootfs":{"type":"layers","diff_ids":[%q]},"config":{}}`, sha256Digest([]byte(recordPayload)))

// artifact pushes an artifact of recordPayload and config to ref with
// regctl artifact put and flags, and returns what regctl printed (the
// digest, with --by-digest).
func (u *recordUpstream) artifact(t *testing.T, ref, config string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	configFile, file := filepath.Join(dir, "config.json"), filepath.Join(dir, "payload.json")
	for path, data := range map[string]string{configFile: config, file: recordPayload} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--host", "reg=" + u.host + ",tls=disabled,user=" + recordUser + ",pass=" + recordPassword,
		"artifact", "put", "--config-file", configFile, "--file", file}
	args = append(append(args, flags...), u.host+"/"+ref)
	return strings.TrimSpace(string(runEnv(t, []string{"HOME=" + u.regctlHome}, regctl, args...)))
}

// get is a GET of path from the registry, as recordUser; it must answer 200.
func (u *recordUpstream) get(t *testing.T, path string, accept ...string) ([]byte, http.Header) {
	t.Helper()
	resp, body := recordRequest(t, "http://"+u.host+path, recordUser, recordPassword, accept...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET http://%s%s: %s\n%s", u.host, path, resp.Status, body)
	}
	return body, resp.Header
}

// recordRequest is a GET of url, with Basic credentials unless user is "",
// and returns the answer and its body.
func recordRequest(t *testing.T, url, user, password string, accept ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	for _, a := range accept {
		req.Header.Add("Accept", a)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, body
}

// TestRecordUpstream checks the fixture: containerd, docker and podman pull
// its images straight from docker-registry with the config digests and
// DiffIDs the registry holds, and the registry answers the referrers tag of
// the index with the referrer, as regctl wrote it.
func TestRecordUpstream(t *testing.T) {
	u := recordUpstreamStart(t, "")
	body, _ := u.get(t, "/v2/team/multi/manifests/"+strings.Replace(u.multi, ":", "-", 1), ocispec.MediaTypeImageIndex)
	recordAssertReferrers(t, "the referrers tag of team/multi", body, u.referrer)
	recordPullEvery(t, "direct", u, recordMirror{host: u.host, prefix: u.host})
}

// recordAssertReferrers fails t unless body is an index listing exactly the
// referrer want, with its artifact type.
func recordAssertReferrers(t *testing.T, what string, body []byte, want string) {
	t.Helper()
	var index ocispec.Index
	if err := json.Unmarshal(body, &index); err != nil || len(index.Manifests) != 1 ||
		index.Manifests[0].Digest.String() != want || index.Manifests[0].ArtifactType != recordReferrerType {
		t.Errorf("%s: want an index of the one referrer %s (%s), got (%v)\n%s", what, want, recordReferrerType, err, body)
	}
}
