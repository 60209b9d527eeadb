package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerTag is the name images are stored under for docker load.
const dockerTag = "example.com/dl/img:1"

// dockerSource is an image archive the docker tests copy through oci-tar:.
type dockerSource struct {
	file, sel string
	flags     []string // ocitar's global flags to choose the image, e.g. --override-arch
}

func (s dockerSource) ref() string {
	ref := "oci-tar:" + testdata(s.file)
	if s.sel != "" {
		ref += ":" + s.sel
	}
	return ref
}

var dockerSources = []dockerSource{
	{file: "sample.docker.tar"},
	{file: "peers/b-oci-one.skopeo.tar"},
	{file: "peers/c-oci-multi.skopeo.tar", sel: "latest", flags: []string{"--override-arch", "amd64", "--override-os", "linux"}},
}

// TestDockerLoad loads ocitar's default output, an OCI layout with docker's
// manifest.json beside it, into a private dockerd: each image keeps its
// config (its docker ID), its DiffIDs and its tag.
func TestDockerLoad(t *testing.T) {
	d := dockerStartDaemon(t)
	for _, src := range dockerSources {
		t.Run(src.file, func(t *testing.T) {
			d.assertLoadsCopy(t, src, filepath.Join(t.TempDir(), "out.tar"))
		})
	}

	t.Run("two images in one archive", func(t *testing.T) {
		sources := []struct {
			src dockerSource
			tag string
		}{
			{dockerSource{file: "sample.docker.tar"}, "example.com/ocitar/sample:1"},
			{dockerSource{file: "peers/a-docker-2layer.docker20.tar"}, "example.com/test/two-layer:latest"},
		}
		out := filepath.Join(t.TempDir(), "two.tar")
		run(t, ocitar, "save", "--insecure-policy", "-q", "-o", out, sources[0].src.ref(), sources[1].src.ref())

		loaded := string(d.run(t, "load", "-i", out))
		for _, s := range sources {
			if !strings.Contains(loaded, "Loaded image: "+s.tag+"\n") {
				t.Errorf("docker load -i %s printed %q, want it to load %s", out, loaded, s.tag)
			}
			config, diffIDs := dockerSourceConfig(t, s.src)
			d.assertImage(t, s.tag, config, diffIDs)
		}
	})
}

// TestDockerSave reads what docker 20 saves (a legacy docker-save archive) with
// oci-tar:: the image keeps its name, config and DiffIDs.
func TestDockerSave(t *testing.T) {
	d := dockerStartDaemon(t)
	for _, src := range dockerSources[:2] {
		t.Run(src.file, func(t *testing.T) {
			dir := t.TempDir()
			hybrid := filepath.Join(dir, "hybrid.tar")
			run(t, ocitar, "copy", "--insecure-policy", "-q", src.ref(), "oci-tar:"+hybrid+":"+dockerTag)
			d.run(t, "load", "-i", hybrid)
			saved := filepath.Join(dir, "saved.tar")
			d.run(t, "save", "-o", saved, dockerTag)

			images := ls(t, saved)
			if len(images) != 1 || !slices.Equal(images[0].Names, []string{dockerTag}) {
				t.Errorf("ocitar ls %s: %+v, want one image named %s", saved, images, dockerTag)
			}
			imageDir := filepath.Join(dir, "image")
			run(t, ocitar, "copy", "--insecure-policy", "-q", "oci-tar:"+saved, "dir:"+imageDir)
			config, diffIDs := readDirImage(t, imageDir)
			wantConfig, wantDiffIDs := dockerSourceConfig(t, src)
			if config != wantConfig || !slices.Equal(diffIDs, wantDiffIDs) {
				t.Errorf("ocitar copy oci-tar:%s dir:%s: config %s with DiffIDs %v, want %s with %v as in %s",
					saved, imageDir, config, diffIDs, wantConfig, wantDiffIDs, src.file)
			}
		})
	}
}

// assertLoadsCopy copies src with ocitar to out, an oci-tar: destination
// named dockerTag, and loads out with docker load: the image must have src's
// config (its docker ID), its DiffIDs and the tag.
func (d *dockerDaemon) assertLoadsCopy(t *testing.T, src dockerSource, out string) {
	t.Helper()
	args := append([]string{"copy", "--insecure-policy", "-q"}, src.flags...)
	run(t, ocitar, append(args, src.ref(), "oci-tar:"+out+":"+dockerTag)...)

	loaded := d.run(t, "load", "-i", out)
	if !strings.Contains(string(loaded), "Loaded image: "+dockerTag) {
		t.Errorf("docker load -i %s printed %q, want it to load %s", out, loaded, dockerTag)
	}
	config, diffIDs := dockerSourceConfig(t, src)
	d.assertImage(t, dockerTag, config, diffIDs)
}

// dockerSourceConfig is the digest of the config of the image src names, as
// stored, and the config's DiffIDs.
func dockerSourceConfig(t *testing.T, src dockerSource) (string, []string) {
	t.Helper()
	args := append([]string{"inspect", "--config", "--raw"}, src.flags...)
	raw := run(t, ocitar, append(args, src.ref())...)
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &config); err != nil {
		t.Fatalf("ocitar inspect --config --raw %s: %v\n%s", src.ref(), err, raw)
	}
	if len(config.RootFS.DiffIDs) == 0 {
		t.Fatalf("ocitar inspect --config --raw %s: the config lists no DiffIDs\n%s", src.ref(), raw)
	}
	return sha256Digest(raw), config.RootFS.DiffIDs
}

// dockerDaemon is a dockerd of the test's own: its socket, data, exec state,
// containerd, key and configuration all live in one temporary directory, it
// listens on a unix socket only and has no bridge, iptables or proxy.
type dockerDaemon struct {
	dir    string // the temporary directory
	host   string // unix://DIR/docker.sock
	log    string // dockerd's standard output and error
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returned
}

// dockerReadyWait bounds the wait for a new dockerd to answer; dockerStopWait the
// wait for each process to exit after SIGTERM, before SIGKILL.
const (
	dockerReadyWait = 60 * time.Second
	dockerStopWait  = 15 * time.Second
)

// dockerStartDaemon starts a private dockerd and waits until it answers. t.Cleanup
// stops it, the containerd it started, and removes its directory.
func dockerStartDaemon(t *testing.T) *dockerDaemon {
	t.Helper()
	return dockerStartDaemonConfig(t, nil)
}

// dockerStartDaemonConfig is dockerStartDaemon with settings added to its daemon.json.
func dockerStartDaemonConfig(t *testing.T, settings map[string]any) *dockerDaemon {
	t.Helper()
	// A short name in TMPDIR (not t.TempDir()): the sockets dockerd and its
	// containerd create under it must fit the 108 bytes of a unix socket address.
	dir, err := os.MkdirTemp("", "d")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerDaemon{dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock"), log: filepath.Join(dir, "dockerd.log")}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing the dockerd directory: %v", err)
		}
	})
	// daemon.json in dir, instead of /etc/docker/daemon.json; it keeps the
	// daemon's identity key, which dockerd 20.10 otherwise creates as
	// /etc/docker/key.json, in dir too.
	daemonJSON := filepath.Join(dir, "daemon.json")
	config := map[string]any{"deprecated-key-path": filepath.Join(dir, "key.json")}
	maps.Copy(config, settings)
	data, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(daemonJSON, data, 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	d.cmd = exec.Command(dockerd.path(),
		"--config-file", daemonJSON,
		"--host", d.host,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--storage-driver", "vfs",
		"--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
		"--bridge=none", "--userland-proxy=false",
	)
	d.cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	// Its own process group, so that the group can be killed; SIGTERM should
	// the test binary die without cleaning up.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting dockerd: %v\n  command: %s", err, commandLine(d.cmd))
	}
	d.exited = make(chan struct{})
	go func() {
		d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() { d.stop(t) })
	d.waitReady(t)
	return d
}

// waitReady polls docker version until the daemon answers; it fails the test
// with dockerd's log if dockerd exits or does not answer in time.
func (d *dockerDaemon) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(dockerReadyWait)
	var last []byte
	for {
		cmd := d.command(t, "version")
		out, err := cmd.CombinedOutput()
		if err == nil {
			return
		}
		last = out
		select {
		case <-d.exited:
			t.Fatalf("dockerd exited before it answered (%v)\n  command: %s\n  dockerd log:\n%s", d.cmd.ProcessState, commandLine(d.cmd), d.logTail())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer `docker version` within %v\n  command: %s\n  last docker version: %s\n  dockerd log:\n%s",
				dockerReadyWait, commandLine(d.cmd), last, d.logTail())
		}
	}
}

// command is the docker client talking to d, with a configuration directory of its own.
func (d *dockerDaemon) command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	return command(t, d.env(), docker, append([]string{"-H", d.host}, args...)...)
}

func (d *dockerDaemon) env() []string {
	return []string{"DOCKER_CONFIG=" + filepath.Join(d.dir, "client"), "DOCKER_CONTEXT=", "DOCKER_HOST="}
}

// run runs the docker client against d and returns its standard output; on
// failure the test fails with the client's standard error.
func (d *dockerDaemon) run(t *testing.T, args ...string) []byte {
	t.Helper()
	return runEnv(t, d.env(), docker, append([]string{"-H", d.host}, args...)...)
}

// assertImage checks with docker image inspect that tag names the image whose
// ID is config and whose layers are diffIDs.
func (d *dockerDaemon) assertImage(t *testing.T, tag, config string, diffIDs []string) {
	t.Helper()
	out := d.run(t, "image", "inspect", tag)
	var images []struct {
		ID       string   `json:"Id"`
		RepoTags []string `json:"RepoTags"`
		RootFS   struct {
			Layers []string `json:"Layers"`
		} `json:"RootFS"`
	}
	if err := json.Unmarshal(out, &images); err != nil || len(images) != 1 {
		t.Fatalf("docker image inspect %s: want one image, got %v\n%s", tag, err, out)
	}
	img := images[0]
	if img.ID != config {
		t.Errorf("docker image inspect %s: Id %s, want the config digest %s", tag, img.ID, config)
	}
	if !slices.Contains(img.RepoTags, tag) {
		t.Errorf("docker image inspect %s: RepoTags %v, want %s among them", tag, img.RepoTags, tag)
	}
	if !slices.Equal(img.RootFS.Layers, diffIDs) {
		t.Errorf("docker image inspect %s: RootFS.Layers %v, want the config's DiffIDs %v", tag, img.RootFS.Layers, diffIDs)
	}
}

// stop ends dockerd: SIGTERM, then SIGKILL to its process group if it has not
// exited in time; then the containerd it started (which runs in a process
// group of its own), should it have survived.
func (d *dockerDaemon) stop(t *testing.T) {
	containerd := d.containerdPID()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("stopping dockerd: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(dockerStopWait):
		t.Errorf("dockerd did not exit within %v of SIGTERM; killing its process group\n  dockerd log:\n%s", dockerStopWait, d.logTail())
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.exited
	}
	if containerd > 0 {
		dockerStopOrphan(t, containerd, filepath.Join(d.dir, "exec"))
	}
}

// containerdPID is the PID in the pidfile of the containerd dockerd started
// under its exec-root, or 0.
func (d *dockerDaemon) containerdPID() int {
	data, err := os.ReadFile(filepath.Join(d.dir, "exec", "containerd", "containerd.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return pid
}

// dockerStopOrphan ends process pid, which is not a child of the test, if it is
// still alive and its command line mentions mark (so that a reused PID is left
// alone): SIGTERM, then SIGKILL if it has not exited in time.
func dockerStopOrphan(t *testing.T, pid int, mark string) {
	alive := func() bool {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(mark)) {
			return false
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		// The state follows the command name in parentheses; Z is a zombie, X dead.
		if i := bytes.LastIndexByte(stat, ')'); err == nil && i+2 < len(stat) {
			return stat[i+2] != 'Z' && stat[i+2] != 'X'
		}
		return false
	}
	if !alive() {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(dockerStopWait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !alive() {
			return
		}
	}
	t.Errorf("containerd (PID %d) outlived dockerd and SIGTERM; killing it", pid)
	syscall.Kill(pid, syscall.SIGKILL)
}

// logTail is the end of dockerd's log.
func (d *dockerDaemon) logTail() string {
	const max = 8 << 10
	data, err := os.ReadFile(d.log)
	if err != nil {
		return err.Error()
	}
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return string(data)
}
