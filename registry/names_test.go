package registry

import (
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

func TestParseImageName(t *testing.T) {
	cases := []struct {
		name, bare string
		want       imageName
		ok         bool
	}{
		{"latest", "bundle", imageName{repoKey{"", "bundle"}, "latest"}, true},
		{"v1.0", "bundle", imageName{repoKey{"", "bundle"}, "v1.0"}, true},
		{"latest", "", imageName{repoKey{"", ""}, "latest"}, false},
		{"alpine", "b", imageName{repoKey{"", "b"}, "alpine"}, true}, // a tag alone, as ref.name holds it
		{"foo/bar", "b", imageName{repoKey{"docker.io", "foo/bar"}, "latest"}, true},
		{"alpine:3", "b", imageName{repoKey{"docker.io", "library/alpine"}, "3"}, true},
		{"docker.io/library/alpine:3", "b", imageName{repoKey{"docker.io", "library/alpine"}, "3"}, true},
		{"index.docker.io/foo/bar:1", "b", imageName{repoKey{"docker.io", "foo/bar"}, "1"}, true},
		{"example.com/a/b:1", "b", imageName{repoKey{"example.com", "a/b"}, "1"}, true},
		{"Example.COM/a/b:1", "b", imageName{repoKey{"example.com", "a/b"}, "1"}, true},
		{"localhost/app:2", "b", imageName{repoKey{"localhost", "app"}, "2"}, true},
		{"localhost:5000/app:1", "b", imageName{repoKey{"localhost:5000", "app"}, "1"}, true},
		{"example.com/app@" + digest.FromString("x").String(), "b", imageName{}, false},
		{"example.com/App:1", "b", imageName{repoKey{"example.com", "App"}, "1"}, false},
	}
	for _, c := range cases {
		got, ok := parseImageName(c.name, c.bare)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("parseImageName(%q, %q) = %+v, %v; want %+v, %v", c.name, c.bare, got, ok, c.want, c.ok)
		}
	}
}

func TestRepoKeyNames(t *testing.T) {
	cases := []struct {
		key  repoKey
		want string
	}{
		{repoKey{"example.com", "a/b"}, "example.com/a/b a/b"},
		{repoKey{"docker.io", "library/alpine"}, "docker.io/library/alpine library/alpine"},
		{repoKey{"localhost:5000", "app"}, "app"},
		{repoKey{"", "bundle"}, "bundle"},
	}
	for _, c := range cases {
		if got := strings.Join(c.key.names(), " "); got != c.want {
			t.Errorf("%+v: %q, want %q", c.key, got, c.want)
		}
	}
}

func TestBareRepository(t *testing.T) {
	cases := map[string]string{
		"bundle.oci.tar":                 "bundle",
		"/srv/images/k3s.tar.zst":        "k3s",
		"dir/Layout/":                    "layout",
		"rke2-images.linux-amd64.tar.gz": "rke2-images",
		"a b.tar":                        "",
		".hidden.tar":                    "",
	}
	for path, want := range cases {
		if got := BareRepository(path); got != want {
			t.Errorf("BareRepository(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestCatalogNames serves images of several registries and archives: each
// name resolves to the one image it means, a path several registries share
// is ambiguous without ns, and a tag two images claim is served by neither.
func TestCatalogNames(t *testing.T) {
	dir := t.TempDir()
	layer := []byte("layer")
	one := newLayout()
	ex1 := one.image([]string{"example.com/x/app:1"}, "ex1", layer)
	quay1 := one.image([]string{"quay.io/x/app:1"}, "quay1", layer)
	shared := one.image([]string{"example.com/x/app:2"}, "shared", layer)
	hub := one.image([]string{"docker.io/library/busybox:1"}, "hub", layer)
	port := one.image([]string{"localhost:5000/y/app:1"}, "port", layer)
	bare1 := one.image([]string{"latest"}, "bare1", layer)
	two := newLayout()
	two.image([]string{"example.com/x/app:1"}, "ex1-other", layer)
	two.image([]string{"example.com/x/app:2"}, "shared", layer)
	bare2 := two.image([]string{"latest"}, "bare2", layer)
	srv, _, logs := serve(t, Options{},
		openArchive(t, one.write(t, dir, "one.tar"), "one"),
		openArchive(t, two.write(t, dir, "two.tar"), "mine/two"))

	cases := []struct {
		path   string
		status int
		want   digest.Digest
	}{
		{"/v2/quay.io/x/app/manifests/1", 200, quay1.Digest},
		{"/v2/x/app/manifests/1?ns=quay.io", 200, quay1.Digest},
		{"/v2/x/app/manifests/1", 404, ""},                        // ambiguous: example.com and quay.io
		{"/v2/example.com/x/app/manifests/1", 404, ""},            // claimed by two images
		{"/v2/x/app/manifests/1?ns=example.com", 404, ""},         // the same
		{"/v2/example.com/x/app/manifests/2", 200, shared.Digest}, // claimed twice by one image
		{"/v2/example.com/x/app/manifests/" + ex1.Digest.String(), 200, ex1.Digest},
		{"/v2/library/busybox/manifests/1", 200, hub.Digest},
		{"/v2/docker.io/library/busybox/manifests/1", 200, hub.Digest},
		{"/v2/busybox/manifests/1", 404, ""},
		{"/v2/y/app/manifests/1", 200, port.Digest},
		{"/v2/y/app/manifests/1?ns=localhost:5000", 200, port.Digest},
		{"/v2/localhost/y/app/manifests/1", 404, ""},
		{"/v2/one/manifests/latest", 200, bare1.Digest},
		{"/v2/mine/two/manifests/latest", 200, bare2.Digest},
		{"/v2/two/manifests/latest", 404, ""},
	}
	for _, c := range cases {
		resp := do(t, srv, "GET", c.path, nil)
		if resp.status != c.status || c.want != "" && digest.FromBytes(resp.body) != c.want {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.status, digest.FromBytes(resp.body), c.status, c.want)
		}
	}
	if got := logs.matching("example.com/x/app:1 is claimed by"); len(got) != 1 || !strings.Contains(got[0], "one.tar @0") || !strings.Contains(got[0], "two.tar @0") {
		t.Errorf("conflict lines: %q", got)
	}
	if got := logs.matching("is claimed by"); len(got) != 1 {
		t.Errorf("conflicts reported: %q", got)
	}
	if got := logs.matching("repository x/app is ambiguous"); len(got) != 1 || !strings.Contains(got[0], "example.com") || !strings.Contains(got[0], "quay.io") {
		t.Errorf("ambiguity lines: %q", got)
	}
	resp := do(t, srv, "GET", "/v2/_catalog", nil)
	want := `{"repositories":["docker.io/library/busybox","example.com/x/app","library/busybox","mine/two","one","quay.io/x/app","y/app"]}`
	if string(resp.body) != want {
		t.Errorf("catalog %s, want %s", resp.body, want)
	}
}
