package registry

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// logLines collects what a Handler logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *logLines) matching(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// serve starts a Handler over archives on a test server of 127.0.0.1.
func serve(t *testing.T, opts Options, archives ...Archive) (*httptest.Server, *Handler, *logLines) {
	t.Helper()
	logs := &logLines{}
	opts.Log = logs.add
	h, err := New(archives, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return srv, h, logs
}

// response is what a test request got.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error // reading the body
}

func (r response) code() string {
	var e errorBody
	if json.Unmarshal(r.body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

func do(t *testing.T, srv *httptest.Server, method, path string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, body, err}
}

// fixture is an archive of the kinds of images the handler serves.
type fixture struct {
	path                     string
	app, app2, app3, alpine  ocispec.Descriptor
	bare, multi, child, sbom ocispec.Descriptor
	sig                      ocispec.Descriptor
	big, small               []byte
	bigDigest, config        digest.Digest
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	l := newLayout()
	f := fixture{big: testimage.Bytes(1, 3<<20), small: []byte("a small layer")}
	f.bigDigest = digest.FromBytes(f.big)
	f.app = l.image([]string{"example.com/team/app:1"}, "app", f.big, f.small)
	f.app2 = l.image([]string{"example.com/team/app:2"}, "app2", f.small)
	f.app3 = l.image([]string{"example.com/team/app:3"}, "app3", f.small)
	f.alpine = l.image([]string{"alpine:3", "docker.io/library/alpine:3"}, "alpine", f.small)
	f.bare = l.image([]string{"latest"}, "bare", f.small)
	f.child = l.manifest("child", f.small)
	f.child.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	f.multi = l.JSONBlob(ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{f.child},
	})
	l.list(f.multi, "example.com/team/multi:2")
	f.sbom = l.referrer(f.app, "application/vnd.example.sbom")
	f.sig = l.referrer(f.app, "application/vnd.example.sig")
	var m ocispec.Manifest
	json.Unmarshal(l.content(f.app.Digest), &m)
	f.config = m.Config.Digest
	f.path = l.write(t, t.TempDir(), "bundle.oci.tar")
	return f
}

// TestHandler requests every endpoint, good and bad, and checks status, error
// code, headers and the digest of the body.
func TestHandler(t *testing.T) {
	f := newFixture(t)
	srv, _, _ := serve(t, Options{}, openArchive(t, f.path, BareRepository(f.path)))
	big := f.big
	blob := "/v2/example.com/team/app/blobs/" + f.bigDigest.String()
	app := "/v2/example.com/team/app"
	unknown := digest.FromString("unknown")
	cases := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		status     int
		code       string
		body       digest.Digest     // of the body, when set
		wantHeader map[string]string // headers and values expected
	}{
		{name: "base", path: "/v2/", status: 200, body: digest.FromString("{}")},
		{name: "base without slash", path: "/v2", status: 200},
		{name: "manifest by tag, full name", path: app + "/manifests/1", status: 200, body: f.app.Digest,
			wantHeader: map[string]string{"Content-Type": ocispec.MediaTypeImageManifest, "Docker-Content-Digest": f.app.Digest.String(), "Content-Length": strconv.FormatInt(f.app.Size, 10), "ETag": `"` + f.app.Digest.String() + `"`}},
		{name: "manifest as a mirror", path: "/v2/team/app/manifests/1", status: 200, body: f.app.Digest},
		{name: "manifest with ns", path: "/v2/team/app/manifests/1?ns=example.com", status: 200, body: f.app.Digest},
		{name: "manifest of another ns", path: "/v2/team/app/manifests/1?ns=quay.io", status: 404, code: "NAME_UNKNOWN"},
		{name: "docker.io as a mirror", path: "/v2/library/alpine/manifests/3", status: 200, body: f.alpine.Digest},
		{name: "docker.io in full", path: "/v2/docker.io/library/alpine/manifests/3", status: 200, body: f.alpine.Digest},
		{name: "docker.io ns", path: "/v2/library/alpine/manifests/3?ns=registry-1.docker.io", status: 200, body: f.alpine.Digest},
		{name: "bare tag under the file name", path: "/v2/bundle/manifests/latest", status: 200, body: f.bare.Digest},
		{name: "manifest head", method: "HEAD", path: app + "/manifests/1", status: 200,
			wantHeader: map[string]string{"Content-Length": strconv.FormatInt(f.app.Size, 10), "Docker-Content-Digest": f.app.Digest.String()}},
		{name: "manifest by digest", path: app + "/manifests/" + f.app2.Digest.String(), status: 200, body: f.app2.Digest},
		{name: "index", path: "/v2/example.com/team/multi/manifests/2", status: 200, body: f.multi.Digest, wantHeader: map[string]string{"Content-Type": ocispec.MediaTypeImageIndex}},
		{name: "index member by digest", path: "/v2/example.com/team/multi/manifests/" + f.child.Digest.String(), status: 200, body: f.child.Digest},
		{name: "accept excludes the type", path: app + "/manifests/1", header: map[string]string{"Accept": "application/vnd.docker.distribution.manifest.v2+json"}, status: 404, code: "MANIFEST_UNKNOWN"},
		{name: "accept lists the type", path: app + "/manifests/1", header: map[string]string{"Accept": "application/vnd.docker.distribution.manifest.v2+json, " + ocispec.MediaTypeImageManifest}, status: 200, body: f.app.Digest},
		{name: "accept anything", path: app + "/manifests/1", header: map[string]string{"Accept": "*/*"}, status: 200, body: f.app.Digest},
		{name: "manifest not modified", path: app + "/manifests/1", header: map[string]string{"If-None-Match": `"` + f.app.Digest.String() + `"`}, status: 304},
		{name: "blob", path: blob, status: 200, body: f.bigDigest,
			wantHeader: map[string]string{"Docker-Content-Digest": f.bigDigest.String(), "Content-Length": strconv.Itoa(len(big)), "Accept-Ranges": "bytes"}},
		{name: "blob head", method: "HEAD", path: blob, status: 200, body: digest.FromString(""), wantHeader: map[string]string{"Content-Length": strconv.Itoa(len(big))}},
		{name: "blob by mirror name", path: "/v2/team/app/blobs/" + f.bigDigest.String(), status: 200, body: f.bigDigest},
		{name: "config blob", path: app + "/blobs/" + f.config.String(), status: 200, body: f.config},
		{name: "manifest as a blob", path: app + "/blobs/" + f.app.Digest.String(), status: 200, body: f.app.Digest},
		{name: "range", path: blob, header: map[string]string{"Range": "bytes=0-9"}, status: 206, body: digest.FromBytes(big[:10]),
			wantHeader: map[string]string{"Content-Range": "bytes 0-9/" + strconv.Itoa(len(big)), "Content-Length": "10"}},
		{name: "range to the end", path: blob, header: map[string]string{"Range": "bytes=100-"}, status: 206, body: digest.FromBytes(big[100:])},
		{name: "suffix range", path: blob, header: map[string]string{"Range": "bytes=-5"}, status: 206, body: digest.FromBytes(big[len(big)-5:])},
		{name: "range past the end is cut", path: blob, header: map[string]string{"Range": "bytes=10-99999999"}, status: 206, body: digest.FromBytes(big[10:])},
		{name: "several ranges get the whole", path: blob, header: map[string]string{"Range": "bytes=0-1,5-6"}, status: 200, body: f.bigDigest},
		{name: "other unit is ignored", path: blob, header: map[string]string{"Range": "items=0-1"}, status: 200, body: f.bigDigest},
		{name: "if-range of other content", path: blob, header: map[string]string{"Range": "bytes=0-1", "If-Range": `"sha256:x"`}, status: 200, body: f.bigDigest},
		{name: "reversed range", path: blob, header: map[string]string{"Range": "bytes=5-2"}, status: 416, code: "RANGE_INVALID", wantHeader: map[string]string{"Content-Range": "bytes */" + strconv.Itoa(len(big))}},
		{name: "range beyond", path: blob, header: map[string]string{"Range": "bytes=" + strconv.Itoa(len(big)) + "-"}, status: 416, code: "RANGE_INVALID"},
		{name: "range not a number", path: blob, header: map[string]string{"Range": "bytes=a-b"}, status: 416, code: "RANGE_INVALID"},
		{name: "range with a sign", path: blob, header: map[string]string{"Range": "bytes=+1-2"}, status: 416, code: "RANGE_INVALID"},
		{name: "empty suffix range", path: blob, header: map[string]string{"Range": "bytes=-0"}, status: 416, code: "RANGE_INVALID"},
		{name: "range without dash", path: blob, header: map[string]string{"Range": "bytes=5"}, status: 416, code: "RANGE_INVALID"},
		{name: "blob not modified", path: blob, header: map[string]string{"If-None-Match": `"` + f.bigDigest.String() + `"`}, status: 304},
		{name: "tags", path: app + "/tags/list", status: 200, body: digest.FromString(`{"name":"example.com/team/app","tags":["1","2","3"]}`)},
		{name: "tags page", path: app + "/tags/list?n=2", status: 200, body: digest.FromString(`{"name":"example.com/team/app","tags":["1","2"]}`),
			wantHeader: map[string]string{"Link": `</v2/example.com/team/app/tags/list?last=2&n=2>; rel="next"`}},
		{name: "tags next page", path: app + "/tags/list?n=2&last=2", status: 200, body: digest.FromString(`{"name":"example.com/team/app","tags":["3"]}`)},
		{name: "tags after", path: app + "/tags/list?last=1", status: 200, body: digest.FromString(`{"name":"example.com/team/app","tags":["2","3"]}`)},
		{name: "tags none", path: app + "/tags/list?n=0", status: 200, body: digest.FromString(`{"name":"example.com/team/app","tags":[]}`)},
		{name: "tags bad n", path: app + "/tags/list?n=-1", status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{name: "tags n not a number", path: app + "/tags/list?n=x", status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{name: "tags of a mirror name", path: "/v2/library/alpine/tags/list", status: 200, body: digest.FromString(`{"name":"library/alpine","tags":["3"]}`)},
		{name: "catalog", path: "/v2/_catalog", status: 200,
			body: digest.FromString(`{"repositories":["bundle","docker.io/library/alpine","example.com/team/app","example.com/team/multi","library/alpine","team/app","team/multi"]}`)},
		{name: "catalog page", path: "/v2/_catalog?n=1&last=bundle", status: 200, body: digest.FromString(`{"repositories":["docker.io/library/alpine"]}`),
			wantHeader: map[string]string{"Link": `</v2/_catalog?last=docker.io%2Flibrary%2Falpine&n=1>; rel="next"`}},
		{name: "referrers bad digest", path: app + "/referrers/sha256:zz", status: 400, code: "DIGEST_INVALID"},

		{name: "unknown repository", path: "/v2/nope/manifests/1", status: 404, code: "NAME_UNKNOWN"},
		{name: "unknown tag", path: app + "/manifests/9", status: 404, code: "MANIFEST_UNKNOWN"},
		{name: "unknown manifest digest", path: app + "/manifests/" + unknown.String(), status: 404, code: "MANIFEST_UNKNOWN"},
		{name: "a config is no manifest", path: app + "/manifests/" + f.config.String(), status: 404, code: "MANIFEST_UNKNOWN"},
		{name: "unknown blob", path: app + "/blobs/" + unknown.String(), status: 404, code: "BLOB_UNKNOWN"},
		{name: "unknown tags", path: "/v2/nope/tags/list", status: 404, code: "NAME_UNKNOWN"},
		{name: "malformed blob digest", path: app + "/blobs/sha256:xyz", status: 400, code: "DIGEST_INVALID"},
		{name: "unsupported algorithm", path: app + "/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", status: 400, code: "DIGEST_INVALID"},
		{name: "short digest", path: app + "/blobs/sha256:abc", status: 400, code: "DIGEST_INVALID"},
		{name: "malformed manifest digest", path: app + "/manifests/sha256:xyz", status: 400, code: "DIGEST_INVALID"},
		{name: "invalid tag", path: app + "/manifests/-x", status: 400, code: "TAG_INVALID"},
		{name: "traversal in name", path: "/v2/../../etc/passwd/manifests/1", status: 400, code: "NAME_INVALID"},
		{name: "encoded traversal in name", path: "/v2/%2e%2e/%2e%2e/etc/blobs/" + f.bigDigest.String(), status: 400, code: "NAME_INVALID"},
		{name: "traversal inside a name", path: "/v2/example.com/../team/app/manifests/1", status: 400, code: "NAME_INVALID"},
		{name: "traversal as digest", path: app + "/blobs/sha256:%2e%2e", status: 400, code: "DIGEST_INVALID"},
		{name: "traversal in digest", path: app + "/blobs/..%2f..%2findex.json", status: 400, code: "DIGEST_INVALID"},
		{name: "traversal as tag", path: app + "/manifests/..", status: 400, code: "TAG_INVALID"},
		{name: "blob path as digest", path: app + "/blobs/sha256%2f" + f.bigDigest.Encoded(), status: 400, code: "DIGEST_INVALID"},
		{name: "upper case name", path: "/v2/Team/App/manifests/1", status: 400, code: "NAME_INVALID"},
		{name: "name too long", path: "/v2/" + strings.Repeat("a", 256) + "/manifests/1", status: 400, code: "NAME_INVALID"},
		{name: "URI too long", path: "/v2/a/manifests/1?x=" + strings.Repeat("a", maxURILength), status: 414, code: "UNSUPPORTED"},
		{name: "not the API", path: "/index.json", status: 404, code: "UNSUPPORTED"},
		{name: "no such endpoint", path: app + "/layers/x", status: 404, code: "UNSUPPORTED"},
		{name: "upload status", path: app + "/blobs/uploads/1234", status: 404, code: "UNSUPPORTED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "GET"
			}
			resp := do(t, srv, method, c.path, c.header)
			if resp.err != nil {
				t.Fatalf("reading the body: %v", resp.err)
			}
			if resp.status != c.status || resp.code() != c.code {
				t.Fatalf("got %d %q, want %d %q: %s", resp.status, resp.code(), c.status, c.code, resp.body)
			}
			if c.body != "" && digest.FromBytes(resp.body) != c.body {
				t.Errorf("body %s is not %s: %.200s", digest.FromBytes(resp.body), c.body, resp.body)
			}
			for k, v := range c.wantHeader {
				if got := resp.header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if got := resp.header.Get("Docker-Distribution-API-Version"); got != "registry/2.0" {
				t.Errorf("Docker-Distribution-API-Version: %q", got)
			}
		})
	}
}

// TestHandlerReferrers lists the referrers of an image, all and by artifactType.
func TestHandlerReferrers(t *testing.T) {
	f := newFixture(t)
	srv, _, _ := serve(t, Options{}, openArchive(t, f.path, "bundle"))
	path := "/v2/example.com/team/app/referrers/"
	cases := []struct {
		query    string
		subject  digest.Digest
		want     []ocispec.Descriptor
		filtered bool
	}{
		{"", f.app.Digest, []ocispec.Descriptor{f.sbom, f.sig}, false},
		{"?artifactType=application/vnd.example.sig", f.app.Digest, []ocispec.Descriptor{f.sig}, true},
		{"?artifactType=application/vnd.example.none", f.app.Digest, nil, true},
		{"", f.app2.Digest, nil, false},
		{"", digest.FromString("unknown"), nil, false},
	}
	for _, c := range cases {
		resp := do(t, srv, "GET", path+c.subject.String()+c.query, nil)
		var index ocispec.Index
		if err := json.Unmarshal(resp.body, &index); err != nil || resp.status != 200 {
			t.Fatalf("%s%s: %d %v: %s", c.subject, c.query, resp.status, err, resp.body)
		}
		if resp.header.Get("Content-Type") != ocispec.MediaTypeImageIndex || index.MediaType != ocispec.MediaTypeImageIndex || index.Manifests == nil {
			t.Errorf("%s%s: not an OCI index: %s", c.subject, c.query, resp.body)
		}
		if got := resp.header.Get("OCI-Filters-Applied") == "artifactType"; got != c.filtered {
			t.Errorf("%s%s: OCI-Filters-Applied %q", c.subject, c.query, resp.header.Get("OCI-Filters-Applied"))
		}
		if len(index.Manifests) != len(c.want) {
			t.Fatalf("%s%s: %d referrers, want %d: %s", c.subject, c.query, len(index.Manifests), len(c.want), resp.body)
		}
		for i, want := range c.want {
			got := index.Manifests[i]
			kind := want.Annotations["org.example.kind"]
			if got.Digest != want.Digest || got.Size != want.Size || got.MediaType != ocispec.MediaTypeImageManifest ||
				got.ArtifactType != kind || got.Annotations["org.example.kind"] != kind {
				t.Errorf("%s%s: referrer %d is %+v, want %s of %s", c.subject, c.query, i, got, want.Digest, kind)
			}
		}
	}
}

// TestHandlerIsReadOnly sends every push and delete request of the API: each
// gets 405 UNSUPPORTED, and the archive and what is served stay the same.
func TestHandlerIsReadOnly(t *testing.T) {
	f := newFixture(t)
	before := fileSum(t, f.path)
	srv, _, _ := serve(t, Options{}, openArchive(t, f.path, "bundle"))
	app := "/v2/example.com/team/app"
	requests := []struct{ method, path string }{
		{"POST", app + "/blobs/uploads/"},
		{"POST", app + "/blobs/uploads/?digest=" + f.bigDigest.String()},
		{"POST", app + "/blobs/uploads/?mount=" + f.bigDigest.String() + "&from=team/app"},
		{"PATCH", app + "/blobs/uploads/1234"},
		{"PUT", app + "/blobs/uploads/1234?digest=" + f.bigDigest.String()},
		{"PUT", app + "/manifests/1"},
		{"PUT", app + "/manifests/new"},
		{"DELETE", app + "/manifests/" + f.app.Digest.String()},
		{"DELETE", app + "/manifests/1"},
		{"DELETE", app + "/blobs/" + f.bigDigest.String()},
		{"DELETE", "/v2/bundle/manifests/latest"},
		{"POST", "/v2/"},
		{"PUT", "/v2/../../tmp/x/manifests/1"},
		{"OPTIONS", app + "/manifests/1"},
	}
	for _, r := range requests {
		resp := do(t, srv, r.method, r.path, map[string]string{"Content-Type": ocispec.MediaTypeImageManifest})
		if resp.status != http.StatusMethodNotAllowed || resp.code() != "UNSUPPORTED" || resp.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: %d %q, Allow %q", r.method, r.path, resp.status, resp.code(), resp.header.Get("Allow"))
		}
	}
	if fileSum(t, f.path) != before {
		t.Error("the archive changed")
	}
	if resp := do(t, srv, "GET", app+"/manifests/1", nil); resp.status != 200 || digest.FromBytes(resp.body) != f.app.Digest {
		t.Errorf("after the pushes, tag 1 gives %d %s", resp.status, digest.FromBytes(resp.body))
	}
	if resp := do(t, srv, "GET", app+"/tags/list", nil); string(resp.body) != `{"name":"example.com/team/app","tags":["1","2","3"]}` {
		t.Errorf("after the pushes, tags are %s", resp.body)
	}
}
