package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// containerdReadyWait bounds the wait for a new containerd to answer.
const containerdReadyWait = 30 * time.Second

// containerdDaemon is a containerd of the test's own: root, state, socket and
// configuration in one temporary directory, without the CRI plugin.
type containerdDaemon struct {
	address string // its unix socket
	*server
}

// containerdStart starts a private containerd and waits until ctr version answers.
func containerdStart(t *testing.T) *containerdDaemon {
	t.Helper()
	// A short name in TMPDIR (not t.TempDir()), for the 108 bytes of a unix socket address.
	dir, err := os.MkdirTemp("", "c")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the containerd directory: %v", err)
		}
	})
	c := &containerdDaemon{address: filepath.Join(dir, "c.sock")}
	config := filepath.Join(dir, "config.toml")
	toml := fmt.Sprintf("version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[ttrpc]\n  address = %q\n", c.address+".ttrpc")
	if err := os.WriteFile(config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	c.server = startServer(t, dir, nil, containerd, "--config", config, "--root", filepath.Join(dir, "root"),
		"--state", filepath.Join(dir, "state"), "--address", c.address, "--log-level", "warn")
	c.waitReady(t)
	return c
}

// waitReady polls ctr version until containerd answers.
func (c *containerdDaemon) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(containerdReadyWait)
	for {
		out, err := command(t, nil, ctr, "--address", c.address, "version").CombinedOutput()
		if err == nil {
			return
		}
		select {
		case <-c.exited:
			t.Fatalf("containerd exited before it answered (%v)\n  command: %s\n  output: %s", c.cmd.ProcessState, commandLine(c.cmd), readFile(t, c.log))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer ctr version within %v: %s\n  command: %s\n  output: %s",
				containerdReadyWait, out, commandLine(c.cmd), readFile(t, c.log))
		}
	}
}

// ctr runs ctr against c in the namespace ocitar and returns its standard output.
func (c *containerdDaemon) ctr(t *testing.T, args ...string) []byte {
	t.Helper()
	return run(t, ctr, append([]string{"--address", c.address, "--namespace", "ocitar"}, args...)...)
}

// ctrChainID matches the chain ID ctr image pull --print-chainid prints.
var ctrChainID = regexp.MustCompile(`image chain ID: (sha256:[0-9a-f]{64})`)

// servePullContainerd pulls by name with --plain-http, and as a mirror of
// example.com named in a hosts.toml: containerd asks the mirror for app,
// which other.example/app:1 shares, and its ?ns=example.com must pick
// example.com's. Each image is unpacked (containerd checks
// every layer against its DiffID, and its chain ID must be the archive's) and
// exported, and the export holds the archive's config and DiffIDs.
func servePullContainerd(t *testing.T, a *serveArchive, host string) {
	c := containerdStart(t)
	hosts := filepath.Join(t.TempDir(), "certs.d")
	if err := os.MkdirAll(filepath.Join(hosts, "example.com"), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("server = \"https://example.com\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", host)
	if err := os.WriteFile(filepath.Join(hosts, "example.com", "hosts.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ref   string
		flags []string
		img   serveImage
	}{
		{host + "/example.com/app:1", []string{"--plain-http"}, a.app},
		{"example.com/app:1", []string{"--hosts-dir", hosts}, a.app}, // /v2/app/... with ns=example.com
		{"example.com/multi:1", []string{"--hosts-dir", hosts}, a.multi},
	} {
		args := append(append([]string{"image", "pull", "--snapshotter", "native", "--print-chainid"}, tt.flags...), tt.ref)
		out := c.ctr(t, args...)
		m := ctrChainID.FindSubmatch(out)
		if want := chainID(tt.img.diffIDs); m == nil || string(m[1]) != want {
			t.Errorf("ctr %s printed %q, want the chain ID %s of the archive's DiffIDs", strings.Join(args, " "), out, want)
		}
		export := filepath.Join(t.TempDir(), "export.tar")
		c.ctr(t, "image", "export", "--platform", "linux/amd64", export, tt.ref)
		config, diffIDs := storageConfig(t, tt.img.choose, "oci-tar:"+export)
		serveAssertImage(t, "ctr image pull", tt.ref, tt.img, config, diffIDs)
	}
}

// chainID is the chain ID of a stack of layers: the first DiffID, then the
// digest of "PARENT CHAIN DIFFID" for each next layer.
func chainID(diffIDs []string) string {
	id := diffIDs[0]
	for _, d := range diffIDs[1:] {
		id = sha256Digest([]byte(id + " " + d))
	}
	return id
}
