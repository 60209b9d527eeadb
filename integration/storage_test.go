package integration

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// storageStore is a containers-storage store with the vfs driver, its root
// and podman's temporary directories in t.TempDir().
type storageStore struct {
	root, runroot, tmp string
	env                []string // podman's XDG_RUNTIME_DIR, apart from tmp, which podman system reset removes
}

// storageMaxRunroot is the longest runroot podman accepts ("the specified
// runroot is longer than 50 characters").
const storageMaxRunroot = 50

// storageNew makes an empty store; when t ends, podman system reset empties
// it so that its directories can be removed. The runroot cannot be in
// t.TempDir(), whose path is longer than podman accepts: it is a directory of
// its own in the temporary directory, removed when t ends.
func storageNew(t *testing.T) *storageStore {
	t.Helper()
	dir := t.TempDir()
	runroot, err := os.MkdirTemp("", "ocitar-rr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(runroot); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	if len(runroot) > storageMaxRunroot {
		t.Fatalf("runroot %s is longer than podman's limit of %d characters: set a shorter TMPDIR", runroot, storageMaxRunroot)
	}
	s := &storageStore{root: filepath.Join(dir, "root"), runroot: runroot, tmp: filepath.Join(dir, "tmp"),
		env: []string{"XDG_RUNTIME_DIR=" + filepath.Join(dir, "xdg")}}
	for _, d := range []string{s.root, s.tmp, filepath.Join(dir, "xdg")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { s.reset(t, dir, runroot) })
	return s
}

// ref is the containers-storage: reference of name in the store.
func (s *storageStore) ref(name string) string {
	return "containers-storage:[vfs@" + s.root + "+" + s.runroot + "]" + name
}

// podmanArgs are podman's global flags for the store, then args.
func (s *storageStore) podmanArgs(args ...string) []string {
	return append([]string{"--root", s.root, "--runroot", s.runroot, "--storage-driver", "vfs", "--tmpdir", s.tmp,
		"--cgroup-manager", "cgroupfs", "--events-backend", "file"}, args...)
}

// podman runs podman on the store and returns its standard output.
func (s *storageStore) podman(t *testing.T, args ...string) []byte {
	t.Helper()
	return runEnv(t, s.env, podman, s.podmanArgs(args...)...)
}

// reset empties the store with podman system reset and makes every directory
// under dirs writable. Failures are logged: they must not fail a test whose
// assertions are done.
func (s *storageStore) reset(t *testing.T, dirs ...string) {
	cmd := exec.Command(podman.path(), s.podmanArgs("system", "reset", "-f")...)
	cmd.Env = append(append(os.Environ(), s.env...), "TMPDIR="+s.tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("cleanup: %s failed: %v\n  command: %s\n  %s output: %s", podman, err, commandLine(cmd), podman, out)
	}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(path, 0o700)
			}
			return nil
		})
	}
}

// storageImage is what podman image inspect tells of an image.
type storageImage struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
	RootFS   struct {
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
}

// inspect is podman image inspect of name in the store.
func (s *storageStore) inspect(t *testing.T, name string) storageImage {
	t.Helper()
	out := s.podman(t, "image", "inspect", name)
	var images []storageImage
	if err := json.Unmarshal(out, &images); err != nil || len(images) != 1 {
		t.Fatalf("podman image inspect %s: want one image, got %d (%v)\n%s", name, len(images), err, out)
	}
	return images[0]
}

// assertImage checks with podman image inspect that name names the image
// whose ID is the config digest config and whose layers are diffIDs.
func (s *storageStore) assertImage(t *testing.T, name, config string, diffIDs []string) {
	t.Helper()
	img := s.inspect(t, name)
	if "sha256:"+img.ID != config || !slices.Contains(img.RepoTags, name) || !slices.Equal(img.RootFS.Layers, diffIDs) {
		t.Errorf("podman image inspect %s: ID %s, names %v, layers %v; want ID %s, name %s, layers %v",
			name, img.ID, img.RepoTags, img.RootFS.Layers, strings.TrimPrefix(config, "sha256:"), name, diffIDs)
	}
}

// storageConfig is the digest and the DiffIDs of the config of the image ref
// names (flags choose the platform), read with ocitar inspect --config --raw.
func storageConfig(t *testing.T, flags []string, ref string) (string, []string) {
	t.Helper()
	raw := run(t, ocitar, append(append([]string{"inspect"}, flags...), "--config", "--raw", ref)...)
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &config); err != nil {
		t.Fatalf("ocitar inspect --config --raw %s: %v\n%s", ref, err, raw)
	}
	return sha256Digest(raw), config.RootFS.DiffIDs
}

// TestStorageRoundTrip puts archived images into containers-storage (vfs),
// checks them with podman, and copies them back into archives with ocitar
// through containers/image's containers-storage: transport: the image ID is
// the config digest, and config and DiffIDs come back unchanged. The first
// copy applies the layers (in a re-executed child of ocitar); the second,
// under another name, finds them in the store.
func TestStorageRoundTrip(t *testing.T) {
	amd64 := []string{"--override-arch", "amd64", "--override-os", "linux"}
	tests := []struct {
		file, name string
		flags      []string
	}{
		{file: "sample.docker.tar", name: "example.com/ocitar/sample:1"},
		{file: "sample-multi.oci.tar", name: "example.com/ocitar/multi:1", flags: amd64},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			store := storageNew(t)
			src := "oci-tar:" + testdata(tt.file)
			config, diffIDs := storageConfig(t, tt.flags, src)
			if len(diffIDs) == 0 {
				t.Fatalf("ocitar inspect --config --raw %s lists no DiffIDs", src)
			}
			again := strings.Replace(tt.name, ":1", ":again", 1)
			for _, name := range []string{tt.name, again} {
				args := append(append([]string{"copy", "--insecure-policy", "-q"}, tt.flags...), src, store.ref(name))
				run(t, ocitar, args...)
			}

			for _, name := range []string{tt.name, again} {
				store.assertImage(t, name, config, diffIDs)
			}

			out := filepath.Join(t.TempDir(), "back.tar")
			run(t, ocitar, "copy", "--insecure-policy", "-q", store.ref(tt.name), "oci-tar:"+out+":back")
			images := ls(t, out)
			if len(images) != 1 || !slices.Equal(images[0].Names, []string{"back"}) {
				t.Errorf("ocitar ls %s after copying %s: %+v, want one image named [back]", out, store.ref(tt.name), images)
			}
			gotConfig, gotDiffIDs := storageConfig(t, nil, "oci-tar:"+out+":back")
			if gotConfig != config || !slices.Equal(gotDiffIDs, diffIDs) {
				t.Errorf("ocitar copy %s oci-tar:%s:back: config %s with DiffIDs %v, want the source's %s with %v",
					store.ref(tt.name), out, gotConfig, gotDiffIDs, config, diffIDs)
			}
		})
	}
}
