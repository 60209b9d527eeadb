package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStack reads two archives as a stack, base.tar+delta.tar, with every
// command that reads one, and refuses a stack where it cannot be one.
func TestStack(t *testing.T) {
	const (
		docker = "../../testdata/sample.docker.tar"
		multi  = "../../testdata/sample-multi.oci.tar"
		stack  = docker + "+" + multi
	)
	out := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		status int
		stdout string // what stdout contains
		stderr string // what its one line contains, when it fails
	}{
		{"ls", []string{"ls", stack}, 0, "example.com/ocitar/multi:1", ""},
		{"ls shows the base", []string{"ls", stack}, 0, "example.com/ocitar/sample:1", ""},
		{"verify", []string{"verify", stack}, 0, stack + ": 2 images, 11 blobs, all verified", ""},
		{"inspect", []string{"inspect", "--raw", "oci-tar:" + stack + ":example.com/ocitar/sample:1"}, 0, `"schemaVersion":2`, ""},
		{"copy from a stack", []string{"copy", "--insecure-policy", "-q", "oci-tar:" + stack + ":example.com/ocitar/sample:1", "dir:" + filepath.Join(out, "sample")}, 0, "", ""},
		{"the same file twice", []string{"ls", docker + "+" + docker}, 1, "", "names " + docker + " twice"},
		{"a member missing", []string{"ls", docker + "+absent.tar"}, 1, "", "absent.tar"},
		{"standard input", []string{"inspect", "oci-tar:-+" + docker}, 1, "", "standard input cannot be a member of a stack"},
		{"as a destination", []string{"copy", "--insecure-policy", "-q", "oci-tar:" + docker, "oci-tar:" + filepath.Join(out, "a.tar") + "+" + filepath.Join(out, "b.tar") + ":x:1"}, 1, "", "a stack is read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, stdout, stderr := ocitar(t, tt.args...)
			if status != tt.status || !strings.Contains(stdout, tt.stdout) {
				t.Fatalf("ocitar %s: exit %d, stdout %q, stderr %q; want %d and %q", strings.Join(tt.args, " "), status, stdout, stderr, tt.status, tt.stdout)
			}
			if tt.status != 0 && (strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.stderr)) {
				t.Errorf("stderr %q, want one line with %q", stderr, tt.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(out, "sample", "manifest.json")); err != nil {
		t.Errorf("copy from the stack wrote no image: %v", err)
	}
	for _, name := range []string{"a.tar", "b.tar"} {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("a copy to a stack wrote %s", name)
		}
	}
}

// TestStackOfDelta reads a delta on its base, alone, and on an archive of
// its base's name that is another: alone, a missing blob names the base the
// delta records; on the wrong base, the stack is refused.
func TestStackOfDelta(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	base, delta := filepath.Join(dir, "base.tar"), filepath.Join(dir, "delta.tar")
	mustOcitar(t, "save", "-q", "-o", base, sampleImage)
	mustOcitar(t, "save", "-q", "--base", base, "-o", delta, sampleImage, multiImage)
	wrong := filepath.Join(other, "base.tar")
	mustOcitar(t, "save", "-q", "-o", wrong, multiImage)
	const sample = "example.com/ocitar/sample:1"
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string // what its one line contains, when it fails
	}{
		{"on its base", []string{"copy", "--insecure-policy", "-q", "oci-tar:" + base + "+" + delta + ":" + sample, "dir:" + t.TempDir()}, 0, ""},
		{"verify on its base", []string{"verify", base + "+" + delta}, 0, ""},
		{"alone", []string{"copy", "--insecure-policy", "-q", "oci-tar:" + delta + ":" + sample, "dir:" + t.TempDir()}, 1, "delta.tar records its base base.tar (sha256:"},
		{"verify alone", []string{"verify", delta}, 1, "to be read as base.tar+delta.tar"},
		{"on the wrong base", []string{"ls", wrong + "+" + delta}, 1, "not the base the delta was written against: " + delta + " records its base base.tar as sha256:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, stdout, stderr := ocitar(t, tt.args...)
			if status != tt.status {
				t.Fatalf("ocitar %s: exit %d, stdout %q, stderr %q; want %d", strings.Join(tt.args, " "), status, stdout, stderr, tt.status)
			}
			if tt.status != 0 && !strings.Contains(strings.SplitN(stderr, "\n", 2)[0], tt.stderr) {
				t.Errorf("stderr %q, want its first line to hold %q", stderr, tt.stderr)
			}
		})
	}
}

// TestFlatten flattens stacks into one archive, which is byte for byte
// what ocitar save -a writes of the images the stack shows.
func TestFlatten(t *testing.T) {
	dir := t.TempDir()
	in := func(name string) string { return filepath.Join(dir, name) }
	mustOcitar(t, "save", "-q", "-a", "-o", in("base.tar"), sampleImage)
	mustOcitar(t, "save", "-q", "-a", "--base", in("base.tar"), "-o", in("delta.tar"), sampleImage, multiImage)
	mustOcitar(t, "save", "-q", "-a", "--base", in("base.tar"), "--base", in("delta.tar"), "-o", in("delta2.tar"), multiImage)
	tests := []struct {
		name  string
		stack string
		same  []string // what save -a writes the same of
	}{
		{"a base and a delta", in("base.tar") + "+" + in("delta.tar"), []string{sampleImage, multiImage}},
		{"a base and two deltas", in("base.tar") + "+" + in("delta.tar") + "+" + in("delta2.tar"), []string{sampleImage, multiImage}},
		{"one archive", in("base.tar"), []string{sampleImage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flat, saved := filepath.Join(t.TempDir(), "flat.tar"), filepath.Join(t.TempDir(), "saved.tar")
			mustOcitar(t, "flatten", "-q", "-o", flat, tt.stack)
			mustOcitar(t, append([]string{"save", "-q", "-a", "-o", saved}, tt.same...)...)
			if !bytes.Equal(readFileBytes(t, flat), readFileBytes(t, saved)) {
				t.Errorf("flatten of %s differs from save -a of %v", tt.stack, tt.same)
			}
			if status, stdout, stderr := ocitar(t, "verify", flat); status != 0 {
				t.Errorf("verify of the flattened archive: %s%s", stdout, stderr)
			}
		})
	}
}

func readFileBytes(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestServeStackNotices: ocitar serve logs which image of a stack hides
// which, unless --quiet, which leaves the ready line alone.
func TestServeStackNotices(t *testing.T) {
	dir := t.TempDir()
	base, _ := writeImageArchive(t, filepath.Join(dir, "base.tar"), "example.com/app:1", 1, 1<<10)
	next, _ := writeImageArchive(t, filepath.Join(dir, "next.tar"), "example.com/app:1", 2, 1<<10)
	for _, tt := range []struct {
		quiet bool
		lines int
	}{{false, 2}, {true, 1}} {
		args := []string{base + "+" + next}
		if tt.quiet {
			args = append([]string{"--quiet"}, args...)
		}
		p := startServe(t, args...)
		if lines := p.stderr(); len(lines) != tt.lines || !readyLine.MatchString(lines[len(lines)-1]) {
			t.Errorf("quiet %v: stderr %q, want %d lines, the ready line last", tt.quiet, lines, tt.lines)
		}
		p.stop(t, syscall.SIGTERM)
	}
}
