package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildFlags are the Makefile's GOFLAGS, used when the environment sets none.
const buildFlags = "-tags=containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper"

var (
	moduleRoot string // the directory of go.mod
	ocitarBin  string // built by TestMain
)

func TestMain(m *testing.M) {
	os.Exit(setUp(m))
}

// setUp checks that every peer is installed, builds ocitar and runs the tests.
func setUp(m *testing.M) int {
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: finding the module root: %v\n", err)
		return 1
	}
	moduleRoot = root
	if missing := missingPeers(); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "integration: missing peers: %s; run `bash hack/install-deps.sh` as root "+
			"(apt-get install skopeo umoci podman docker.io docker-registry pigz zstd nginx-light python3; crane, regctl, conformance, versitygw and crictl go into bin/)\n", strings.Join(missing, ", "))
		return 1
	}
	dir, err := os.MkdirTemp("", "ocitar-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ocitarBin = filepath.Join(dir, "ocitar")
	build := goCommand("build", "-o", ocitarBin, "./cmd/ocitar")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: building ocitar failed: %v\n  command: %s\n%s", err, commandLine(build), out)
		return 1
	}
	return m.Run()
}

// findModuleRoot is the directory of the go.mod `go env GOMOD` names, else "..".
func findModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	return filepath.Abs("..")
}

// goCommand is the go tool with args, run in the module root with the build tags ocitar needs.
func goCommand(args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = moduleRoot
	cmd.Env = os.Environ()
	if os.Getenv("GOFLAGS") == "" {
		cmd.Env = append(cmd.Env, "GOFLAGS="+buildFlags)
	}
	return cmd
}

// peer is a program the tests run: ocitar, built by TestMain; crane, regctl,
// conformance, versitygw and crictl, which hack/install-deps.sh builds into the module's bin/; the others
// from Debian's packages.
type peer string

const (
	ocitar         peer = "ocitar"
	skopeo         peer = "skopeo"
	umoci          peer = "umoci"
	podman         peer = "podman"
	dockerd        peer = "/usr/sbin/dockerd"
	docker         peer = "/usr/bin/docker" // Debian's client, of the same version as its dockerd
	dockerRegistry peer = "docker-registry"
	crane          peer = "crane"
	regctl         peer = "regctl"
	containerd     peer = "containerd" // Debian's, installed with docker.io
	ctr            peer = "ctr"
	crictl         peer = "crictl"      // the CRI client, in bin/
	conformance    peer = "conformance" // the OCI distribution-spec conformance suite, in bin/
	gzip           peer = "gzip"
	pigz           peer = "pigz"
	zstd           peer = "zstd"
	pzstd          peer = "pzstd" // in Debian's zstd
	gnuTar         peer = "tar"
	nginx          peer = "/usr/sbin/nginx"  // Debian's nginx-light
	versitygw      peer = "versitygw"        // an S3 gateway over a directory, in bin/
	python3        peer = "/usr/bin/python3" // Debian's; its http.server ignores Range
)

// peers are the programs that must be installed.
var peers = []peer{skopeo, umoci, podman, dockerd, docker, dockerRegistry, crane, regctl, containerd, ctr, crictl, conformance, gzip, pigz, zstd, pzstd, gnuTar, nginx, versitygw, python3}

func (p peer) path() string {
	switch p {
	case ocitar:
		return ocitarBin
	case crane, regctl, conformance, versitygw, crictl:
		return filepath.Join(moduleRoot, "bin", string(p))
	}
	return string(p)
}

func missingPeers() []string {
	var missing []string
	for _, p := range peers {
		if _, err := exec.LookPath(p.path()); err != nil {
			missing = append(missing, string(p))
		}
	}
	return missing
}

// command is p with args; its TMPDIR is a new directory under t.TempDir(), and
// env (KEY=VALUE) is added to an environment without SOURCE_DATE_EPOCH.
func command(t *testing.T, env []string, p peer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(p.path(), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "TMPDIR="+t.TempDir()), env...)
	return cmd
}

// run runs p with args and returns its standard output. Unless p exits 0 the
// test fails, naming p, the command line and p's standard error.
func run(t *testing.T, p peer, args ...string) []byte {
	t.Helper()
	return runEnv(t, nil, p, args...)
}

// runEnv is run with env added to p's environment.
func runEnv(t *testing.T, env []string, p peer, args ...string) []byte {
	t.Helper()
	cmd := command(t, env, p, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s failed: %v\n  command: %s\n  %s stderr: %s", p, err, commandLine(cmd), p, stderr.String())
	}
	return stdout.Bytes()
}

// runFailing runs p with args, which must exit with status 1, and returns its standard error.
func runFailing(t *testing.T, p peer, args ...string) string {
	t.Helper()
	cmd := command(t, nil, p, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("%s: want exit status 1, got %v\n  command: %s\n  %s stderr: %s", p, err, commandLine(cmd), p, stderr.String())
	}
	return stderr.String()
}

// commandLine is cmd as a shell would take it.
func commandLine(cmd *exec.Cmd) string {
	words := make([]string, len(cmd.Args))
	for i, arg := range cmd.Args {
		words[i] = shellQuote(arg)
	}
	return strings.Join(words, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@=,+-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// testdata is the path of a file under the module's testdata/.
func testdata(name string) string {
	return filepath.Join(moduleRoot, "testdata", name)
}

// lsImage is one image as ocitar ls --json prints it.
type lsImage struct {
	Position  int      `json:"position"`
	Names     []string `json:"names"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Platforms []string `json:"platforms"`
	Size      int64    `json:"size"`
}

// ls lists the images of an archive with ocitar ls --json.
func ls(t *testing.T, archive string) []lsImage {
	t.Helper()
	out := run(t, ocitar, "ls", "--json", archive)
	var images []lsImage
	if err := json.Unmarshal(out, &images); err != nil {
		t.Fatalf("ocitar ls --json %s: %v\n%s", archive, err, out)
	}
	return images
}

// sha256Digest is the digest of data, as "sha256:HEX".
func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(readFile(t, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// tarEntry is one entry of a tar file.
type tarEntry struct {
	name  string
	mtime time.Time
	data  []byte
}

// readTar reads every entry of the tar at path.
func readTar(t *testing.T, path string) []tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var entries []tarEntry
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, hdr.Name, err)
		}
		entries = append(entries, tarEntry{name: hdr.Name, mtime: hdr.ModTime, data: data})
	}
}

// dirNames are the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}
