package integration

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServePull serves one archive with ocitar serve and pulls its images
// with every client: each pulled image must have the config digest and the
// DiffIDs of the archive's image, and an index pulled whole keeps its digest.
// The clients run in parallel against the one server.
func TestServePull(t *testing.T) {
	dir := t.TempDir()
	a := serveArchiveMake(t, dir)
	servePullEvery(t, a, serveStart(t, dir, a.path).host)
}

// servePullEvery pulls a's images from host with every client, each in a
// parallel subtest of t.
func servePullEvery(t *testing.T, a *serveArchive, host string) {
	servePullWith(t, a, host)
}

// servePullClients are the clients of servePullEvery, by name.
var servePullClients = []struct {
	name string
	pull func(*testing.T, *serveArchive, string)
}{
	{"skopeo", servePullSkopeo},
	{"crane", servePullCrane},
	{"regctl", servePullRegctl},
	{"podman", servePullPodman},
	{"docker", servePullDocker},
	{"containerd", servePullContainerd},
	{"crictl", servePullCrictl},
}

// servePullWith is servePullEvery with only the clients named, or every
// client when none is.
func servePullWith(t *testing.T, a *serveArchive, host string, names ...string) {
	for _, c := range servePullClients {
		if len(names) > 0 && !slices.Contains(names, c.name) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.pull(t, a, host)
		})
	}
}

// serveAssertImage fails t unless config and diffIDs, read from what client
// pulled as ref, are img's.
func serveAssertImage(t *testing.T, client, ref string, img serveImage, config string, diffIDs []string) {
	t.Helper()
	if config != img.config || !slices.Equal(diffIDs, img.diffIDs) {
		t.Errorf("%s pulled %s: config %s with DiffIDs %v, want the archive's %s (%s) with %v",
			client, ref, config, diffIDs, img.config, img.name, img.diffIDs)
	}
}

// servePullSkopeo copies single images to dir: and the index whole, with
// --all, to an OCI layout, whose index.json must list the archive's digest.
func servePullSkopeo(t *testing.T, a *serveArchive, host string) {
	for _, tt := range []struct {
		repo string
		img  serveImage
	}{
		{"example.com/app:1", a.app},
		{"library/sample:1", a.hub},
	} {
		ref := "docker://" + host + "/" + tt.repo
		out := filepath.Join(t.TempDir(), "image")
		run(t, skopeo, "--insecure-policy", "copy", "-q", "--src-tls-verify=false", ref, "dir:"+out)
		config, diffIDs := readDirImage(t, out)
		serveAssertImage(t, "skopeo copy", ref, tt.img, config, diffIDs)
	}

	ref := "docker://" + host + "/example.com/multi:1"
	layout := filepath.Join(t.TempDir(), "layout")
	run(t, skopeo, "--insecure-policy", "copy", "-q", "--all", "--src-tls-verify=false", ref, "oci:"+layout+":multi")
	var index struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	readJSON(t, filepath.Join(layout, "index.json"), &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != a.multi.manifest {
		t.Errorf("skopeo copy --all %s oci:%s: index.json lists %+v, want only the archive's index %s", ref, layout, index.Manifests, a.multi.manifest)
	}
	config, diffIDs := storageConfig(t, a.multi.choose, "oci:"+layout+":multi")
	serveAssertImage(t, "skopeo copy --all", ref, a.multi, config, diffIDs)
}

// servePullCrane pulls an image to a tarball and reads the digest of the index.
func servePullCrane(t *testing.T, a *serveArchive, host string) {
	env := []string{"HOME=" + t.TempDir()}
	ref := host + "/example.com/app:1"
	out := filepath.Join(t.TempDir(), "crane.tar")
	runEnv(t, env, crane, "pull", "--insecure", ref, out)
	config, diffIDs := storageConfig(t, nil, "oci-tar:"+out)
	serveAssertImage(t, "crane pull", ref, a.app, config, diffIDs)

	multi := host + "/example.com/multi:1"
	if got := strings.TrimSpace(string(runEnv(t, env, crane, "digest", "--insecure", multi))); got != a.multi.manifest {
		t.Errorf("crane digest %s: %s, want the archive's index %s", multi, got, a.multi.manifest)
	}
}

// servePullRegctl exports the whole index: its digest and the linux/amd64
// image must be the archive's.
func servePullRegctl(t *testing.T, a *serveArchive, host string) {
	env := []string{"HOME=" + t.TempDir()}
	ref := host + "/example.com/multi:1"
	out := filepath.Join(t.TempDir(), "regctl.tar")
	runEnv(t, env, regctl, "image", "export", "--host", "reg="+host+",tls=disabled", ref, out)
	images := ls(t, out)
	if len(images) != 1 || images[0].Digest != a.multi.manifest {
		t.Errorf("regctl image export %s: ocitar ls lists %+v, want one image, the archive's index %s", ref, images, a.multi.manifest)
	}
	config, diffIDs := storageConfig(t, a.multi.choose, "oci-tar:"+out)
	serveAssertImage(t, "regctl image export", ref, a.multi, config, diffIDs)
}

// servePullPodman pulls into a private vfs store.
func servePullPodman(t *testing.T, a *serveArchive, host string) {
	store := storageNew(t)
	ref := host + "/example.com/app:1"
	store.podman(t, "pull", "-q", "--tls-verify=false", ref)
	img := store.inspect(t, ref)
	serveAssertImage(t, "podman pull", ref, a.app, "sha256:"+img.ID, img.RootFS.Layers)
}

// servePullDocker pulls by name from the server as an insecure registry, and
// the docker.io image as docker.io's mirror: no other registry is reachable.
func servePullDocker(t *testing.T, a *serveArchive, host string) {
	d := dockerStartDaemonConfig(t, map[string]any{
		"insecure-registries": []string{host},
		"registry-mirrors":    []string{"http://" + host},
	})
	for _, tt := range []struct {
		ref string
		img serveImage
	}{
		{host + "/example.com/app:1", a.app},
		{"sample:1", a.hub},
	} {
		d.run(t, "pull", "-q", tt.ref)
		d.assertImage(t, tt.ref, tt.img.config, tt.img.diffIDs)
	}
}
