package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pull fetches what a client pulls of repo:ref from base: the manifest, the
// members of an index, and every config and layer, each checked against its
// digest. It returns the digest of the manifest and the config digests.
func pull(client *http.Client, base, repo, ref string) (digest.Digest, []digest.Digest, error) {
	data, err := fetch(client, base+"/v2/"+repo+"/manifests/"+ref, "")
	if err != nil {
		return "", nil, err
	}
	var m manifestFields
	if err := json.Unmarshal(data, &m); err != nil {
		return "", nil, err
	}
	var configs []digest.Digest
	for _, child := range m.Manifests {
		_, c, err := pull(client, base, repo, child.Digest.String())
		if err != nil {
			return "", nil, err
		}
		configs = append(configs, c...)
	}
	if m.Config != nil {
		configs = append(configs, m.Config.Digest)
		for _, b := range append([]ocispec.Descriptor{*m.Config}, m.Layers...) {
			if _, err := fetch(client, base+"/v2/"+repo+"/blobs/"+b.Digest.String(), b.Digest); err != nil {
				return "", nil, err
			}
		}
	}
	return digest.FromBytes(data), configs, nil
}

// fetch GETs url and checks the body against want, unless want is "".
func fetch(client *http.Client, url string, want digest.Digest) ([]byte, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", strings.Join([]string{ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"}, ", "))
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	if want != "" && digest.FromBytes(body) != want {
		return nil, fmt.Errorf("%s: got content of %s", url, digest.FromBytes(body))
	}
	return body, nil
}

// TestHandlerServesPeerArchives pulls the image of every archive other
// tools wrote (docker-save with and without compressed layers, OCI, hybrid)
// and of an OCI layout directory: the config digests are the archive's.
func TestHandlerServesPeerArchives(t *testing.T) {
	peers := "../testdata/peers/"
	cases := []struct {
		file, repo, tag string
		configs         int
	}{
		{"a-docker-2layer.skopeo.tar", "example.com/test/two-layer", "latest", 1},
		{"a-docker-2layer.crane-tarball.tar", "test/two-layer", "latest", 1}, // named 127.0.0.1:5001/test/two-layer
		{"a-docker-2layer.docker20.tar", "example.com/test/two-layer", "latest", 1},
		{"b-oci-one.skopeo.tar", "b-oci-one", "latest", 1},
		{"c-oci-multi.skopeo.tar", "c-oci-multi", "latest", 2},
		{"h-hello-world-docker25.ggcr-fixture.tar", "h-hello-world-docker25", "sha256:27818803504ed3b278909ec8bd7a8bd2498b00b0167cb1fbdebf0d2cbba84dfe", 1}, // unnamed
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			a := openArchive(t, peers+c.file, BareRepository(c.file))
			want := configDigests(t, a.Reader)
			srv, _, _ := serve(t, Options{}, a)
			_, configs, err := pull(srv.Client(), srv.URL, c.repo, c.tag)
			if err != nil {
				t.Fatal(err)
			}
			if len(configs) != c.configs || !sameSet(configs, want) {
				t.Errorf("pulled configs %v, the archive has %v", configs, want)
			}
		})
	}
	t.Run("layout directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "layout")
		untar(t, peers+"c-oci-multi.skopeo.tar", dir)
		r, err := archive.OpenDir(dir, archive.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv, _, _ := serve(t, Options{}, Archive{Reader: r, Repo: BareRepository(dir)})
		if _, configs, err := pull(srv.Client(), srv.URL, "layout", "latest"); err != nil || len(configs) != 2 {
			t.Fatalf("%v %v", configs, err)
		}
	})
}

// configDigests are the config digests of every image of r.
func configDigests(t *testing.T, r *archive.Reader) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	var walk func(d digest.Digest)
	walk = func(d digest.Digest) {
		data, _, err := r.Manifest(d)
		if err != nil {
			t.Fatal(err)
		}
		var m manifestFields
		json.Unmarshal(data, &m)
		if m.Config != nil {
			out = append(out, m.Config.Digest)
		}
		for _, c := range m.Manifests {
			walk(c.Digest)
		}
	}
	for _, img := range r.Images() {
		walk(img.Descriptor.Digest)
	}
	return out
}

func sameSet(a, b []digest.Digest) bool {
	seen := map[digest.Digest]bool{}
	for _, d := range b {
		seen[d] = true
	}
	for _, d := range a {
		if !seen[d] {
			return false
		}
	}
	return len(a) > 0
}

// untar extracts the regular files and directories of a tar into dir.
func untar(t testing.TB, path, dir string) {
	t.Helper()
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, e := range r.Entries() {
		target := filepath.Join(dir, e.Name)
		if e.Type == '5' {
			os.MkdirAll(target, 0o755)
			continue
		}
		data := make([]byte, e.Size)
		if _, err := f.ReadAt(data, e.Offset); err != nil && e.Size > 0 {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(target), 0o755)
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
