package integration

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOCIManifestsHybrid writes a docker-save image with OCI manifests
// (`ocitar copy -f oci docker-archive:X oci-tar:Y:NAME`), docker >= 25's
// form: an OCI layout with docker's manifest.json beside it. Twice, to the
// same bytes; then every reader takes it by its name: skopeo 1.9.3's
// oci-archive:, which finds names only among OCI manifests, and
// docker-archive:, dockerd 20.10's docker load and podman load.
func TestOCIManifestsHybrid(t *testing.T) {
	const name = "example.com/a:1"
	src := dockerSource{file: "sample.docker.tar"}
	config, diffIDs := dockerSourceConfig(t, src)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.tar")
	for _, dest := range []string{out, filepath.Join(dir, "again.tar")} {
		run(t, ocitar, "copy", "--insecure-policy", "-q", "-f", "oci", "docker-archive:"+testdata(src.file), "oci-tar:"+dest+":"+name)
	}
	if first, second := readFile(t, out), readFile(t, filepath.Join(dir, "again.tar")); !bytes.Equal(first, second) {
		t.Errorf("two runs differ: %s and %s", sha256Digest(first), sha256Digest(second))
	}
	images := ls(t, out)
	if len(images) != 1 || images[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("ocitar ls %s: %+v, want one image with an OCI manifest", out, images)
	}

	t.Run("skopeo oci-archive: by name", func(t *testing.T) {
		raw := run(t, skopeo, "inspect", "--raw", "oci-archive:"+out+":"+name)
		if got := sha256Digest(raw); got != images[0].Digest {
			t.Errorf("skopeo inspect --raw oci-archive:%s:%s: manifest %s, want %s", out, name, got, images[0].Digest)
		}
		assertSkopeoReads(t, "oci-archive:"+out+":"+name, config, diffIDs)
	})
	t.Run("skopeo docker-archive:", func(t *testing.T) {
		assertSkopeoReads(t, "docker-archive:"+out, config, diffIDs)
	})
	t.Run("docker load", func(t *testing.T) {
		d := dockerStartDaemon(t)
		if loaded := string(d.run(t, "load", "-i", out)); !strings.Contains(loaded, "Loaded image: "+name) {
			t.Errorf("docker load -i %s printed %q, want it to load %s", out, loaded, name)
		}
		d.assertImage(t, name, config, diffIDs)
	})
	t.Run("podman load", func(t *testing.T) {
		store := storageNew(t)
		store.podman(t, "load", "-q", "-i", out)
		store.assertImage(t, name, config, diffIDs)
	})
}

// assertSkopeoReads copies ref to a directory with skopeo: the image has
// config digest config and DiffIDs diffIDs.
func assertSkopeoReads(t *testing.T, ref, config string, diffIDs []string) {
	t.Helper()
	imageDir := filepath.Join(t.TempDir(), "image")
	run(t, skopeo, "--insecure-policy", "copy", "-q", ref, "dir:"+imageDir)
	gotConfig, gotDiffIDs := readDirImage(t, imageDir)
	if gotConfig != config || !slices.Equal(gotDiffIDs, diffIDs) {
		t.Errorf("skopeo copy %s dir:%s: config %s with DiffIDs %v, want %s with %v", ref, imageDir, gotConfig, gotDiffIDs, config, diffIDs)
	}
}
