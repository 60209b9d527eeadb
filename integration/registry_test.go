package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// registryOneManifest is the digest of the only manifest of
// testdata/peers/b-oci-one.skopeo.tar, also the linux/amd64 manifest of
// c-oci-multi.skopeo.tar.
const registryOneManifest = "sha256:a5d220459da17a3618fd33339f759861f8fc9d8635afbd5f979df800f94d810b"

// registryServer is a docker-registry (CNCF distribution) started by a test.
type registryServer struct {
	host string // 127.0.0.1:PORT
	*server
}

// registryStart starts docker-registry on a free port of 127.0.0.1, with no
// auth and its storage in a temporary directory, and waits until /v2/ answers
// 200. The registry is killed when t ends, passed or not.
func registryStart(t *testing.T) *registryServer {
	t.Helper()
	return registryStartConfig(t, "")
}

// registryStartConfig is registryStart with extra, top-level YAML such as
// an auth section, added to the registry's configuration; with auth, /v2/
// answering 401 is ready.
func registryStartConfig(t *testing.T, extra string) *registryServer {
	t.Helper()
	dir := t.TempDir()
	r := &registryServer{host: freeAddr(t)}
	config := filepath.Join(dir, "config.yml")
	yaml := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "data"), r.host, extra)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	r.server = startServer(t, dir, nil, dockerRegistry, "serve", config)
	if extra == "" {
		r.waitHTTP(t, "http://"+r.host+"/v2/")
	} else {
		remoteWaitAnswer(t, r.server, "http://"+r.host+"/v2/", nil)
	}
	return r
}

// ref is the docker:// reference of repo:tag in the registry.
func (r *registryServer) ref(repoTag string) string {
	return "docker://" + r.host + "/" + repoTag
}

// manifest is the manifest (or index) the registry serves for ref, as skopeo
// reads it, and its digest.
func (r *registryServer) manifest(t *testing.T, ref string) ([]byte, string) {
	t.Helper()
	raw := run(t, skopeo, "inspect", "--raw", "--tls-verify=false", ref)
	return raw, sha256Digest(raw)
}

// registryConfigDigest is the config digest of the image ref names in an
// archive (flags choose the platform), from ocitar inspect --config --raw.
func registryConfigDigest(t *testing.T, flags []string, ref string) string {
	t.Helper()
	args := append(append([]string{"inspect"}, flags...), "--config", "--raw", ref)
	return sha256Digest(run(t, ocitar, args...))
}

// TestRegistryRoundTrip pushes single images from archives to a registry and
// pulls them back into archives: the pulled manifest is the one the registry
// serves, byte for byte, and the config is the source's. An OCI image is
// pushed unchanged; a docker-save image, whose layers are stored
// uncompressed, is compressed by the copy engine on the way.
func TestRegistryRoundTrip(t *testing.T) {
	reg := registryStart(t)
	tests := []struct {
		file, sel, tag string
		flags          []string
		pushed         string // the manifest digest the registry must hold; "" if the push converts it
	}{
		{file: "sample.docker.tar", tag: "sample"},
		{file: "peers/b-oci-one.skopeo.tar", tag: "one", pushed: registryOneManifest},
		{file: "peers/c-oci-multi.skopeo.tar", sel: "latest", tag: "multi-amd64", pushed: registryOneManifest,
			flags: []string{"--override-arch", "amd64", "--override-os", "linux"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := "oci-tar:" + testdata(tt.file)
			if tt.sel != "" {
				src += ":" + tt.sel
			}
			dst := reg.ref("t/x:" + tt.tag)
			args := append([]string{"copy", "--insecure-policy", "-q", "--dest-tls-verify=false"}, tt.flags...)
			run(t, ocitar, append(args, src, dst)...)

			raw, pushed := reg.manifest(t, dst)
			if tt.pushed != "" && pushed != tt.pushed {
				t.Errorf("ocitar copy %s %s: the registry holds manifest %s, want the source's %s\n%s", src, dst, pushed, tt.pushed, raw)
			}
			config := registryConfigDigest(t, tt.flags, src)
			var m struct {
				Config struct {
					Digest string `json:"digest"`
				} `json:"config"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("skopeo inspect --raw %s: %v\n%s", dst, err, raw)
			}
			if m.Config.Digest != config {
				t.Errorf("skopeo inspect --raw %s: config %s, want the source's %s", dst, m.Config.Digest, config)
			}

			out := filepath.Join(t.TempDir(), "out.tar")
			run(t, ocitar, "copy", "--insecure-policy", "-q", "--src-tls-verify=false", dst, "oci-tar:"+out+":name")
			images := ls(t, out)
			if len(images) != 1 || images[0].Digest != pushed || !slices.Equal(images[0].Names, []string{"name"}) {
				t.Fatalf("ocitar ls %s after pulling %s: %+v, want one image named [name] with manifest %s", out, dst, images, pushed)
			}
			if got := registryConfigDigest(t, nil, "oci-tar:"+out+":name"); got != config {
				t.Errorf("ocitar inspect --config --raw oci-tar:%s:name: config %s, want the source's %s", out, got, config)
			}
		})
	}
}

// TestRegistryCopyAll pushes a whole multi-platform index with --all and
// pulls it back with --all: the registry and the archive keep the index digest.
func TestRegistryCopyAll(t *testing.T) {
	reg := registryStart(t)
	tests := []struct {
		file, sel, tag, index string
	}{
		{file: "peers/c-oci-multi.skopeo.tar", sel: "latest", tag: "1", index: multiIndex},
		{file: "sample-multi.oci.tar", tag: "2", index: "sha256:556360957187cae737f0acc140bfeecd329e632bb8679c5cd0f71dd6ed0eb094"},
	}
	platforms := []string{"linux/amd64", "linux/arm64/v8"}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := "oci-tar:" + testdata(tt.file)
			if tt.sel != "" {
				src += ":" + tt.sel
			}
			dst := reg.ref("t/multi:" + tt.tag)
			run(t, ocitar, "copy", "--insecure-policy", "-q", "--all", "--preserve-digests", "--dest-tls-verify=false", src, dst)
			if raw, got := reg.manifest(t, dst); got != tt.index {
				t.Errorf("ocitar copy --all %s %s: the registry holds %s, want the index %s\n%s", src, dst, got, tt.index, raw)
			}

			out := filepath.Join(t.TempDir(), "out.tar")
			run(t, ocitar, "copy", "--insecure-policy", "-q", "--all", "--src-tls-verify=false", dst, "oci-tar:"+out+":multi")
			images := ls(t, out)
			if len(images) != 1 || images[0].Digest != tt.index || !slices.Equal(images[0].Platforms, platforms) ||
				!slices.Equal(images[0].Names, []string{"multi"}) {
				t.Errorf("ocitar ls %s after ocitar copy --all %s: %+v, want one image named [multi], digest %s, platforms %s",
					out, dst, images, tt.index, strings.Join(platforms, ", "))
			}
		})
	}
}
