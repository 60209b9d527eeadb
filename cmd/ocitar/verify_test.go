package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	tests := []struct {
		path   string
		status int
		stdout string
		stderr []string // what each line of stderr contains
	}{
		{"../../testdata/sample-multi.oci.tar", 0, "../../testdata/sample-multi.oci.tar: 1 image, 8 blobs, all verified\n", nil},
		{"oci-tar:../../testdata/sample.docker.tar", 0, "../../testdata/sample.docker.tar: 1 image, 4 blobs, all verified\n", nil},
		{"../../testdata/malicious/missing-blob.tar", 1, "", []string{"missing-blob.tar: blob missing from the archive: sha256:"}},
		{"../../testdata/absent.tar", 1, "", []string{"absent.tar: no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, stdout, stderr := ocitar(t, "verify", tt.path)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if stderr == "" {
				lines = nil
			}
			if status != tt.status || stdout != tt.stdout || len(lines) != len(tt.stderr) {
				t.Fatalf("verify %s: exit %d, stdout %q, stderr %q", tt.path, status, stdout, stderr)
			}
			for i, want := range tt.stderr {
				if !strings.HasPrefix(lines[i], "ocitar: ") || !strings.Contains(lines[i], want) {
					t.Errorf("stderr line %d = %q, want it to contain %q", i, lines[i], want)
				}
			}
		})
	}
}

// TestVerifyPrintsEveryProblem: an archive with two problems gets one line
// for each, and exit status 1.
func TestVerifyPrintsEveryProblem(t *testing.T) {
	missing := "sha256:" + strings.Repeat("ab", 32)
	path := filepath.Join(t.TempDir(), "two.tar")
	data := tarOf(t, "/absolute", "x", "index.json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+missing+`","size":10}]}`)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := ocitar(t, "verify", path)
	want := []string{
		"ocitar: " + path + `: unsafe entry name: entry "/absolute" has an absolute name`,
		"ocitar: " + path + ": blob missing from the archive: index.json names " + missing + " (entry 0), which the archive lacks",
	}
	if status != 1 || stdout != "" || stderr != strings.Join(want, "\n")+"\n" {
		t.Errorf("verify: exit %d, stdout %q, stderr %q; want 1, none, %q", status, stdout, stderr, want)
	}
}

// TestMaxDecompressionRatioFlag: the gzip bomb of the corpus is refused as a
// bomb, and with the ratio raised it is spooled whole and refused for what it
// holds, by verify and by copy (through the transport) alike.
func TestMaxDecompressionRatioFlag(t *testing.T) {
	const bomb = "../../testdata/malicious/gzip-bomb.tar.gz"
	dir := t.TempDir()
	dest := "oci-tar:" + filepath.Join(dir, "out.tar")
	existing := filepath.Join(dir, "existing.tar.gz") // a destination to add to
	data, err := os.ReadFile(bomb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(existing, data, 0o644); err != nil {
		t.Fatal(err)
	}
	commands := [][]string{
		{"verify", bomb},
		{"ls", bomb},
		{"inspect", "oci-tar:" + bomb},
		{"copy", "--quiet", "oci-tar:" + bomb, dest},
		{"copy", "--quiet", "docker-archive:../../testdata/sample.docker.tar", "oci-tar:" + existing + ":example.com/added:1"},
		{"save", "--quiet", "-o", filepath.Join(dir, "saved.tar"), "oci-tar:" + bomb},
		{"unpack", "oci-tar:" + bomb, filepath.Join(dir, "rootfs")},
	}
	tests := []struct {
		flags []string
		want  string
	}{
		{nil, "decompression bomb"},
		{[]string{"--max-decompression-ratio", "2000"}, "neither an OCI layout"},
	}
	for _, args := range commands {
		for _, tt := range tests {
			args := append(append([]string{}, tt.flags...), args...)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				status, _, stderr := ocitar(t, append([]string{"--tmpdir", t.TempDir()}, args...)...)
				if status != 1 || !strings.Contains(stderr, tt.want) {
					t.Errorf("exit %d, stderr %q; want 1 and %q", status, stderr, tt.want)
				}
			})
		}
	}
}
