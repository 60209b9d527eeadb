package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// containerdReadyWait bounds the wait for a new containerd to answer.
const containerdReadyWait = 30 * time.Second

// containerdDaemon is a containerd of the test's own: root, state, socket and
// configuration in one temporary directory.
type containerdDaemon struct {
	address   string // its unix socket
	namespace string // of its images: ocitar for ctr's pulls, k8s.io for the CRI plugin's
	*server
}

// containerdStart starts a private containerd without the CRI plugin and
// waits until ctr version answers.
func containerdStart(t *testing.T) *containerdDaemon {
	t.Helper()
	c := containerdLaunch(t, "ocitar", "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n")
	c.waitReady(t, ctr, "--address", c.address, "version")
	return c
}

// containerdStartCRI starts a private containerd with the CRI plugin, which
// finds registries in the hosts.toml files under hostsDir, and waits until
// its image service answers crictl.
func containerdStartCRI(t *testing.T, hostsDir string) *containerdDaemon {
	t.Helper()
	c := containerdLaunch(t, "k8s.io", containerdCRIConfig(t, hostsDir))
	c.waitReady(t, crictl, c.crictlArgs("images")...)
	return c
}

// containerdCRIConfig configures the CRI plugin for pulls: no network plugin
// (its CNI directory is empty), no AppArmor, the native snapshotter, its
// streaming server on 127.0.0.1 and a free port, and hostsDir's registries.
func containerdCRIConfig(t *testing.T, hostsDir string) string {
	cni := t.TempDir()
	return fmt.Sprintf(`[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, cni, cni, hostsDir)
}

// containerdLaunch starts a private containerd whose config.toml holds
// plugins, the configuration of its plugins, and keeps its images in namespace.
func containerdLaunch(t *testing.T, namespace, plugins string) *containerdDaemon {
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
	c := &containerdDaemon{address: filepath.Join(dir, "c.sock"), namespace: namespace}
	config := filepath.Join(dir, "config.toml")
	toml := fmt.Sprintf("version = 2\n%s[ttrpc]\n  address = %q\n", plugins, c.address+".ttrpc")
	if err := os.WriteFile(config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	c.server = startServer(t, dir, nil, containerd, "--config", config, "--root", filepath.Join(dir, "root"),
		"--state", filepath.Join(dir, "state"), "--address", c.address, "--log-level", "warn")
	return c
}

// waitReady polls p with args until it exits 0: containerd answers.
func (c *containerdDaemon) waitReady(t *testing.T, p peer, args ...string) {
	t.Helper()
	deadline := time.Now().Add(containerdReadyWait)
	for {
		out, err := command(t, nil, p, args...).CombinedOutput()
		if err == nil {
			return
		}
		select {
		case <-c.exited:
			t.Fatalf("containerd exited before it answered (%v)\n  command: %s\n  output: %s", c.cmd.ProcessState, commandLine(c.cmd), readFile(t, c.log))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer %s within %v: %s\n  command: %s\n  output: %s",
				p, containerdReadyWait, out, commandLine(c.cmd), readFile(t, c.log))
		}
	}
}

// ctr runs ctr against c in its namespace and returns its standard output.
func (c *containerdDaemon) ctr(t *testing.T, args ...string) []byte {
	t.Helper()
	return run(t, ctr, append([]string{"--address", c.address, "--namespace", c.namespace}, args...)...)
}

// crictl runs crictl against c's CRI plugin and returns its standard output.
func (c *containerdDaemon) crictl(t *testing.T, args ...string) []byte {
	t.Helper()
	return run(t, crictl, c.crictlArgs(args...)...)
}

// crictlArgs are args with the flags that point crictl at c, and at no
// configuration file (crictl would look in /etc and beside itself).
func (c *containerdDaemon) crictlArgs(args ...string) []string {
	endpoint := "unix://" + c.address
	return append([]string{"--config", os.DevNull, "--image-endpoint", endpoint, "--runtime-endpoint", endpoint}, args...)
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
	hosts := containerdMirrorHosts(t, host)
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

// containerdMirrorHosts is a directory of hosts.toml files that make host,
// over plain http, the mirror of example.com and docker.io.
func containerdMirrorHosts(t *testing.T, host string) string {
	t.Helper()
	hosts := filepath.Join(t.TempDir(), "certs.d")
	for _, registry := range []string{"example.com", "docker.io"} {
		if err := os.MkdirAll(filepath.Join(hosts, registry), 0o755); err != nil {
			t.Fatal(err)
		}
		toml := fmt.Sprintf("server = \"https://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", registry, host)
		if err := os.WriteFile(filepath.Join(hosts, registry, "hosts.toml"), []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hosts
}

// servePullCrictl pulls through containerd's CRI plugin, the kubelet's path,
// with the server as the mirror of example.com and docker.io: app, hub by its
// short name and the index multi. The image ID must be the archive's config
// digest, the config containerd keeps must hash to it and hold the archive's
// DiffIDs, the repo digests must name the archive's manifest or index (hub
// and multi's linux/amd64 image share a config, so one image ID holds both
// repo digests), and the layers must be unpacked: a snapshot named by their
// chain ID.
func servePullCrictl(t *testing.T, a *serveArchive, host string) {
	c := containerdStartCRI(t, containerdMirrorHosts(t, host))
	for _, tt := range []struct {
		ref, repo string
		img       serveImage
	}{
		{"example.com/app:1", "example.com/app", a.app}, // /v2/app/... with ns=example.com
		{"sample:1", "docker.io/library/sample", a.hub},
		{"example.com/multi:1", "example.com/multi", a.multi},
	} {
		c.crictl(t, "pull", tt.ref)
		var image struct {
			Status struct {
				ID          string   `json:"id"`
				RepoDigests []string `json:"repoDigests"`
			} `json:"status"`
		}
		if err := json.Unmarshal(c.crictl(t, "inspecti", "-o", "json", tt.ref), &image); err != nil {
			t.Fatalf("crictl inspecti %s: %v", tt.ref, err)
		}
		config, diffIDs := configOf(t, c.ctr(t, "content", "get", image.Status.ID))
		if config != image.Status.ID {
			t.Errorf("crictl pull %s: image ID %s, but its config in containerd hashes to %s", tt.ref, image.Status.ID, config)
		}
		serveAssertImage(t, "crictl pull", tt.ref, tt.img, config, diffIDs)
		if want := tt.repo + "@" + tt.img.manifest; !slices.Contains(image.Status.RepoDigests, want) {
			t.Errorf("crictl pull %s: repo digests %v, want %s among them", tt.ref, image.Status.RepoDigests, want)
		}
		c.ctr(t, "snapshots", "--snapshotter", "native", "info", chainID(tt.img.diffIDs))
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
