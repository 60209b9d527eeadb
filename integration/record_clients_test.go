package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The clients of the recording-mirror tests, each configured with a mirror
// as a user would: containerd by hosts.toml, docker by registry-mirrors,
// podman by a registries.conf mirror.

// recordMirror is a registry the clients use as their mirror.
type recordMirror struct {
	host   string // HOST:PORT, the mirror of example.com (hosts.toml) and docker.io (registry-mirrors)
	prefix string // where example.com's repositories are asked for without ?ns=: HOST/example.com, or HOST
}

// recordMirrorOf is ocitar serve at host as the mirror of example.com and docker.io.
func recordMirrorOf(host string) recordMirror {
	return recordMirror{host: host, prefix: host + "/example.com"}
}

// recordPulls are the clients, by name.
var recordPulls = []struct {
	name string
	pull func(*testing.T, *recordUpstream, recordMirror)
}{
	{"containerd", recordPullContainerd},
	{"docker", recordPullDocker},
	{"podman", recordPullPodman},
}

// recordPullEvery pulls from m with each client, in parallel subtests of
// the subtest name, which returns once all of them are done.
func recordPullEvery(t *testing.T, name string, u *recordUpstream, m recordMirror) {
	t.Run(name, func(t *testing.T) {
		for _, c := range recordPulls {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.pull(t, u, m)
			})
		}
	})
}

// recordPullContainerd pulls example.com/team/app:1 and the linux/amd64
// image of example.com/team/multi:1 with ctr through a hosts.toml naming m:
// containerd asks for team/... with ?ns=example.com. Each is unpacked
// (containerd checks every layer against its DiffID; the chain ID must be
// the upstream's) and exported, and the export holds the upstream's config
// and DiffIDs.
func recordPullContainerd(t *testing.T, u *recordUpstream, m recordMirror) {
	c := containerdStart(t)
	hosts := containerdMirrorHosts(t, m.host)
	for _, tt := range []struct {
		ref string
		img serveImage
	}{
		{"example.com/team/app:1", u.app},
		{"example.com/team/multi:1", u.amd64},
	} {
		out := c.ctr(t, "image", "pull", "--snapshotter", "native", "--print-chainid", "--hosts-dir", hosts, tt.ref)
		if got, want := ctrChainID.FindSubmatch(out), chainID(tt.img.diffIDs); got == nil || string(got[1]) != want {
			t.Errorf("ctr image pull %s from %s printed %q, want the chain ID %s of the upstream's DiffIDs", tt.ref, m.host, out, want)
		}
		export := filepath.Join(t.TempDir(), "export.tar")
		c.ctr(t, "image", "export", "--platform", "linux/amd64", export, tt.ref)
		config, diffIDs := storageConfig(t, tt.img.choose, "oci-tar:"+export)
		serveAssertImage(t, "ctr image pull", tt.ref, tt.img, config, diffIDs)
	}
}

// recordPullDocker pulls sample:1 with m as docker.io's registry mirror
// (docker asks for library/sample without ?ns=), and team/app:1 by name
// from m as an insecure registry.
func recordPullDocker(t *testing.T, u *recordUpstream, m recordMirror) {
	d := dockerStartDaemonConfig(t, map[string]any{
		"insecure-registries": []string{m.host},
		"registry-mirrors":    []string{"http://" + m.host},
	})
	for _, tt := range []struct {
		ref string
		img serveImage
	}{
		{"sample:1", u.hub},
		{m.prefix + "/team/app:1", u.app},
	} {
		d.run(t, "pull", "-q", tt.ref)
		d.assertImage(t, tt.ref, tt.img.config, tt.img.diffIDs)
	}
}

// recordPullPodman pulls example.com/team/app:1 and the linux/arm64 image of
// example.com/team/multi:1 into a private store, with m.prefix as the
// registries.conf mirror of example.com.
func recordPullPodman(t *testing.T, u *recordUpstream, m recordMirror) {
	store := storageNew(t)
	store.env = append(store.env, "CONTAINERS_REGISTRIES_CONF="+recordRegistriesConf(t, m))
	for _, tt := range []struct {
		ref   string
		flags []string
		img   serveImage
	}{
		{"example.com/team/app:1", nil, u.app},
		{"example.com/team/multi:1", []string{"--platform", "linux/arm64"}, u.arm64},
	} {
		store.podman(t, append(append([]string{"pull", "-q"}, tt.flags...), tt.ref)...)
		img := store.inspect(t, tt.ref)
		serveAssertImage(t, "podman pull", tt.ref, tt.img, "sha256:"+img.ID, img.RootFS.Layers)
	}
}

// recordRegistriesConf writes a registries.conf that makes m.prefix the
// only, insecure, mirror of example.com, and returns its path.
func recordRegistriesConf(t *testing.T, m recordMirror) string {
	t.Helper()
	conf := fmt.Sprintf(`[[registry]]
prefix = "example.com"
location = "example.com"

[[registry.mirror]]
location = %q
insecure = true
`, m.prefix)
	path := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
