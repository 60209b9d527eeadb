package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestServeStackPull serves a base and a delta written against it as one
// stack, base.tar+delta.tar, and pulls every image with the clients of a
// cluster node, each checking the config digest and DiffIDs: the delta
// holds the layers of app and multi, the base those of sample, which the
// delta's other.example/app:1 shares.
func TestServeStackPull(t *testing.T) {
	dir := t.TempDir()
	a := serveArchiveMake(t, dir)
	base, delta := filepath.Join(dir, "base.tar"), filepath.Join(dir, "delta.tar")
	from := func(img serveImage) string { return "oci-tar:" + a.path + ":" + img.name }
	run(t, ocitar, "save", "-q", "-a", "-o", base, from(a.hub))
	run(t, ocitar, "save", "-q", "-a", "--base", base, "-o", delta, from(a.app), from(a.multi), from(a.other))
	for _, img := range ls(t, delta) {
		if strings.Contains(strings.Join(img.Names, " "), a.hub.name) {
			t.Fatalf("the delta holds %s, which only the base should", a.hub.name)
		}
	}
	if msg := runFailing(t, ocitar, "verify", delta); !strings.Contains(msg, "to be read as base.tar+delta.tar") {
		t.Fatalf("ocitar verify of the delta alone: %q, want the layers it lacks, held by base.tar", msg)
	}
	s := serveStart(t, dir, base+"+"+delta)
	servePullWith(t, a, s.host, "skopeo", "podman", "containerd", "crictl")
}
