//go:build skopeo

package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// skopeoSource is the skopeo source tree SKOPEO_SRC names, which make
// test-skopeo built the built skopeo from.
func skopeoSource(t *testing.T) string {
	t.Helper()
	src := os.Getenv("SKOPEO_SRC")
	if src == "" {
		t.Fatal("SKOPEO_SRC is not set: run make test-skopeo SKOPEO_SRC=DIR")
	}
	if st, err := os.Stat(filepath.Join(src, "go.mod")); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("SKOPEO_SRC=%s is not a skopeo source tree: %v", src, err)
	}
	return src
}

// treeHash hashes everything under dir: every name, type, mode, modification
// time and content, and the target of every symbolic link.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(h, "%q %v %d %d\n", rel, info.Mode(), info.ModTime().UnixNano(), info.Size())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", target)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(h, "%x\n", sum)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("hashing %s: %v", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// buildScript runs hack/build-skopeo.sh with args and returns its standard
// output, standard error and exit status.
func buildScript(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(moduleRoot, "hack", "build-skopeo.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", commandLine(cmd), err)
		}
		status = exit.ExitCode()
	}
	return stdout.String(), stderr.String(), status
}

// copyTree copies the tree src to dst with cp -a.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v: %s", src, dst, err, out)
	}
}

// writeFiles writes files (path: content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBuiltSkopeoBuildScript builds skopeo with hack/build-skopeo.sh from
// SKOPEO_SRC, and from a read-only copy of it with a .git and a vendor/ that
// a vendored build would choke on: each tree is unchanged afterwards, to the
// modification times, the skopeo built reads oci-tar:, and a second run
// with the same inputs is skipped.
func TestBuiltSkopeoBuildScript(t *testing.T) {
	src := skopeoSource(t)
	clone := filepath.Join(t.TempDir(), "clone")
	copyTree(t, src, clone)
	writeFiles(t, clone, map[string]string{
		"vendor/modules.txt":        "# not the vendored modules of go.mod\n",
		"vendor/example.com/x/x.go": "package x\n",
		".git/HEAD":                 "ref: refs/heads/main\n",
	})
	if out, err := exec.Command("chmod", "-R", "a-w", clone).CombinedOutput(); err != nil {
		t.Fatalf("chmod -R a-w %s: %v: %s", clone, err, out)
	}
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", clone).Run() })
	sample := factsOf(t, ocitar, nil, "oci-tar:"+testdata("sample.docker.tar"))
	for name, tree := range map[string]string{"SKOPEO_SRC": src, "a read-only clone with vendor": clone} {
		t.Run(name, func(t *testing.T) {
			before := treeHash(t, tree)
			bin := filepath.Join(t.TempDir(), "skopeo")
			stdout, stderr, status := buildScript(t, tree, bin)
			if status != 0 || !strings.Contains(stdout, "built "+bin) {
				t.Fatalf("hack/build-skopeo.sh %s %s: exit status %d, stdout %q, stderr %q", tree, bin, status, stdout, stderr)
			}
			if after := treeHash(t, tree); after != before {
				t.Errorf("hack/build-skopeo.sh changed %s: its hash was %s, is %s", tree, before, after)
			}
			raw := run(t, peer(bin), "inspect", "--raw", "oci-tar:"+testdata("sample.docker.tar"))
			if got := sha256Digest(raw); got != sample.manifest {
				t.Errorf("%s inspect --raw: manifest %s, want %s", bin, got, sample.manifest)
			}
			built, err := os.Stat(bin)
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, status = buildScript(t, tree, bin)
			if again, err := os.Stat(bin); status != 0 || !strings.Contains(stdout, "is up to date") || err != nil || !again.ModTime().Equal(built.ModTime()) {
				t.Errorf("hack/build-skopeo.sh again: exit status %d, stdout %q, stderr %q; want %s up to date and untouched", status, stdout, stderr, bin)
			}
		})
	}
}

// TestBuiltSkopeoBuildScriptErrors gives hack/build-skopeo.sh trees it cannot
// build skopeo from: it fails with one line that says why, and writes no skopeo.
func TestBuiltSkopeoBuildScriptErrors(t *testing.T) {
	src := skopeoSource(t)
	requires := regexp.MustCompile(`(?m)^\s*go\.podman\.io/image/v5 (\S+)`)
	m := requires.FindStringSubmatch(string(readFile(t, filepath.Join(src, "go.mod"))))
	if m == nil {
		t.Fatalf("%s/go.mod does not require go.podman.io/image/v5", src)
	}
	skopeoImage := m[1]
	skopeoSum := string(readFile(t, filepath.Join(src, "go.sum")))
	out, err := goCommand("list", "-m", "-f", "{{.Version}}", "go.podman.io/image/v5").Output()
	if err != nil {
		t.Fatalf("go list -m go.podman.io/image/v5: %v", err)
	}
	ocitarImage := strings.TrimSpace(string(out))
	mainGo := "package main\n\nimport (\n\t\"fmt\"\n\n\t\"go.podman.io/image/v5/types\"\n)\n\nfunc main() { fmt.Println(types.%s) }\n"
	tests := []struct {
		name  string
		files map[string]string // the tree; nil for no directory at all
		want  []string
	}{
		{name: "no directory", want: []string{"is not a directory"}},
		{name: "empty", files: map[string]string{}, want: []string{"is not skopeo's source: it has no go.mod"}},
		{name: "another module", files: map[string]string{"go.mod": "module example.com/other\n\ngo 1.25\n"},
			want: []string{"its go.mod declares module example.com/other, not go.podman.io/skopeo"}},
		{name: "no main.go", files: map[string]string{"go.mod": "module go.podman.io/skopeo\n\ngo 1.25\n"},
			want: []string{"it has no cmd/skopeo/main.go"}},
		{name: "containers/image", files: map[string]string{
			"go.mod":             "module github.com/containers/skopeo\n\ngo 1.22\n\nrequire github.com/containers/image/v5 v5.32.2\n",
			"cmd/skopeo/main.go": fmt.Sprintf(mainGo, "NoSuchThing"),
		}, want: []string{"builds on github.com/containers/image/v5 v5.32.2", "go.podman.io/image/v5 " + ocitarImage}},
		// skopeo's code uses what go.podman.io/image/v5 no longer has at the
		// version ocitar needs, which MVS picks.
		{name: "does not build", files: map[string]string{
			"go.mod":             "module go.podman.io/skopeo\n\ngo 1.25.6\n\nrequire go.podman.io/image/v5 " + skopeoImage + "\n",
			"go.sum":             skopeoSum,
			"cmd/skopeo/main.go": fmt.Sprintf(mainGo, "NoSuchThing"),
		}, want: []string{"go build failed", "go.podman.io/image/v5: skopeo requires " + skopeoImage + ", ocitar " + ocitarImage + ", the build used " + ocitarImage, "undefined: types.NoSuchThing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			if tt.files != nil {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				writeFiles(t, dir, tt.files)
			}
			bin := filepath.Join(t.TempDir(), "skopeo")
			stdout, stderr, status := buildScript(t, dir, bin)
			line, rest, _ := strings.Cut(strings.TrimSuffix(stderr, "\n"), "\n")
			ok := status == 1 && rest == "" && strings.HasPrefix(line, "build-skopeo: ")
			for _, w := range tt.want {
				ok = ok && strings.Contains(line, w)
			}
			if !ok {
				t.Errorf("hack/build-skopeo.sh %s: exit status %d, stderr %q; want status 1 and one line that says %q", dir, status, stderr, tt.want)
			}
			if strings.Contains(stdout, "built") {
				t.Errorf("hack/build-skopeo.sh %s: stdout %q", dir, stdout)
			}
			if _, err := os.Stat(bin); err == nil {
				t.Errorf("hack/build-skopeo.sh %s wrote %s", dir, bin)
			}
		})
	}
}
