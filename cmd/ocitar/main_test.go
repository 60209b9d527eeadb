package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

const peers = "../../testdata/peers/"

// ocitar runs one command line in process and returns its exit status, stdout and stderr.
func ocitar(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(append([]string{"--insecure-policy"}, args...), &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

// mustOcitar runs a command line that must succeed and returns its stdout.
func mustOcitar(t *testing.T, args ...string) string {
	t.Helper()
	status, stdout, stderr := ocitar(t, args...)
	if status != 0 {
		t.Fatalf("ocitar %s: exit %d: %s", strings.Join(args, " "), status, stderr)
	}
	return stdout
}

// dirImage is what a dir: destination holds: the config digest and the DiffIDs.
type dirImage struct {
	config  digest.Digest
	diffIDs []digest.Digest
}

func readDirImage(t *testing.T, dir string) dirImage {
	t.Helper()
	var m struct {
		Config struct{ Digest digest.Digest }
	}
	readJSON(t, filepath.Join(dir, "manifest.json"), &m)
	var c struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	readJSON(t, filepath.Join(dir, m.Config.Digest.Encoded()), &c)
	return dirImage{config: m.Config.Digest, diffIDs: c.RootFS.DiffIDs}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readJSONString(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
}
