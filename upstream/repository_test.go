package upstream

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/errkind"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRepositoryManifest(t *testing.T) {
	const tagPath = "/v2/team/app/manifests/latest"
	digestPath := "/v2/team/app/manifests/" + testManifestDigest.String()
	bareManifest := []byte(`{"schemaVersion":2,"config":{},"layers":[]}`)
	huge := bytes.Repeat([]byte(" "), archive.MaxManifestSize+1)
	tests := []struct {
		name      string
		routes    map[string]response
		body      []byte // the test manifest when nil
		unreached bool
		ref       string
		mediaType string
		err       []error
	}{
		{name: "tag", ref: "latest", mediaType: ocispec.MediaTypeImageManifest, routes: map[string]response{
			tagPath: ok(testManifest, "Content-Type", ocispec.MediaTypeImageManifest+"; charset=utf-8", "Docker-Content-Digest", testManifestDigest.String())}},
		{name: "tag with a generic Content-Type", ref: "latest", mediaType: ocispec.MediaTypeImageManifest, routes: map[string]response{
			tagPath: ok(testManifest, "Content-Type", "text/plain")}},
		{name: "tag without a mediaType", ref: "latest", body: bareManifest, mediaType: ocispec.MediaTypeImageManifest, routes: map[string]response{
			tagPath: ok(bareManifest, "Content-Type", ocispec.MediaTypeImageManifest)}},
		{name: "tag of another digest", ref: "latest", err: []error{errkind.ErrDigestMismatch, ErrUnavailable}, routes: map[string]response{
			tagPath: ok(testManifest, "Docker-Content-Digest", "sha256:"+strings.Repeat("0", 64))}},
		{name: "digest", ref: testManifestDigest.String(), mediaType: ocispec.MediaTypeImageManifest, routes: map[string]response{
			digestPath: ok(testManifest, "Content-Type", ocispec.MediaTypeImageManifest)}},
		{name: "digest of another body", ref: testManifestDigest.String(), err: []error{errkind.ErrDigestMismatch, ErrUnavailable}, routes: map[string]response{
			digestPath: ok(append([]byte(" "), testManifest...))}},
		{name: "too large", ref: "latest", err: []error{errkind.ErrTooLarge, ErrUnavailable}, routes: map[string]response{
			tagPath: ok(huge)}},
		{name: "too large by its length", ref: "latest", err: []error{errkind.ErrTooLarge, ErrUnavailable}, routes: map[string]response{
			tagPath: ok(huge, "Content-Length", strconv.Itoa(len(huge)))}},
		{name: "404", ref: "latest", err: []error{fs.ErrNotExist}},
		{name: "500", ref: "latest", err: []error{ErrUnavailable}, routes: map[string]response{
			tagPath: {status: http.StatusInternalServerError}}},
		{name: "unreachable", ref: "latest", unreached: true, err: []error{ErrUnavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var base string
			if tt.unreached {
				base = closedURL(t)
			} else {
				base = newFakeServer(t, tt.routes).URL
			}
			data, mediaType, d, err := route(t, newTestSet(t, Options{}, base), "", "team/app").Manifest(context.Background(), tt.ref, nil)
			if tt.err != nil {
				checkError(t, err, base+"/v2/team/app/manifests/"+tt.ref, tt.err...)
				if tt.err[0] != fs.ErrNotExist && errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%v is not found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body := tt.body
			if body == nil {
				body = testManifest
			}
			if !bytes.Equal(data, body) || mediaType != tt.mediaType || d != digest.FromBytes(body) {
				t.Errorf("Manifest = %q %s %s; want %q %s %s", data, mediaType, d, body, tt.mediaType, digest.FromBytes(body))
			}
		})
	}
}

// checkError fails unless err names url and wraps every one of kinds.
func checkError(t *testing.T, err error, url string, kinds ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %v", kinds)
	}
	for _, kind := range kinds {
		if !errors.Is(err, kind) {
			t.Errorf("%v is not %v", err, kind)
		}
	}
	if !strings.Contains(err.Error(), url) {
		t.Errorf("%v does not name %s", err, url)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%q is not one line", err)
	}
}

func TestRepositoryManifestAccept(t *testing.T) {
	tests := []struct {
		accept []string
		want   string
	}{
		{nil, ocispec.MediaTypeImageIndex + ", " + ocispec.MediaTypeImageManifest + ", " + dockerManifestList + ", " + dockerManifest},
		{[]string{dockerManifest, "application/vnd.docker.distribution.manifest.v1+prettyjws"}, dockerManifest + ", application/vnd.docker.distribution.manifest.v1+prettyjws"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			srv := newFakeServer(t, map[string]response{"/v2/app/manifests/1": ok(testManifest)})
			if _, _, _, err := route(t, newTestSet(t, Options{}, srv.URL), "", "app").Manifest(context.Background(), "1", tt.accept); err != nil {
				t.Fatal(err)
			}
			if seen := srv.requests(""); len(seen) != 1 || seen[0].accept != tt.want {
				t.Errorf("the upstream saw %+v; want one request accepting %s", seen, tt.want)
			}
		})
	}
}

func TestRepositoryManifestKept(t *testing.T) {
	srv := newFakeServer(t, map[string]response{
		"/v2/app/manifests/1":                                ok(testManifest, "Content-Type", "application/octet-stream"),
		"/v2/app/manifests/" + testManifestDigest.String():   ok(testManifest, "Content-Type", "application/octet-stream"),
		"/v2/other/manifests/" + testManifestDigest.String(): ok(testManifest, "Content-Type", "application/octet-stream"),
	})
	set := newTestSet(t, Options{}, srv.URL)
	ctx := context.Background()
	refs := []struct{ repo, ref string }{{"app", "1"}, {"app", testManifestDigest.String()}, {"app", "1"}, {"other", testManifestDigest.String()}}
	for _, ref := range refs {
		data, mediaType, d, err := route(t, set, "", ref.repo).Manifest(ctx, ref.ref, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, testManifest) || mediaType != ocispec.MediaTypeImageManifest || d != testManifestDigest {
			t.Errorf("%s:%s = %q %s %s", ref.repo, ref.ref, data, mediaType, d)
		}
	}
	want := map[string]int{"/v2/app/manifests/1": 2, "/v2/app/manifests/" + testManifestDigest.String(): 0, "/v2/other/manifests/" + testManifestDigest.String(): 1}
	for path, n := range want {
		if got := len(srv.requests(path)); got != n {
			t.Errorf("%d GET %s; want %d", got, path, n)
		}
	}
}
