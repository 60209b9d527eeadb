package main

import (
	"os"
	"path/filepath"
	"strings"
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
		{"the same file twice", []string{"ls", docker + "+" + docker}, 1, "", "the stack names " + docker + " twice"},
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
