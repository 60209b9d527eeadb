package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tarOf builds an uncompressed tar of name/body pairs.
func tarOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		body := files[i+1]
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func twoImageArchive(t *testing.T) []byte {
	t.Helper()
	amd64 := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	var buf bytes.Buffer
	err := testimage.WriteDockerSave(&buf, testimage.Sample("example.com/one:1", amd64), testimage.Sample("example.com/two:1", ocispec.Platform{OS: "linux", Architecture: "arm64"}))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBadInputFailsCleanly checks that each kind of broken archive gives one
// error line that names the file and the problem, exit status 1, and no output.
func TestBadInputFailsCleanly(t *testing.T) {
	sample, err := os.ReadFile("../../testdata/sample.docker.tar")
	if err != nil {
		t.Fatal(err)
	}
	missing := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name     string
		data     []byte // nil: the file does not exist
		selector string
		want     []string // in the error line, besides the path
	}{
		{"absent file", nil, "", []string{"no such file"}},
		{"not a tar", bytes.Repeat([]byte("plain text\n"), 100), "", []string{"not a readable tar archive"}},
		{"truncated", sample[:len(sample)/2], "", []string{"truncated"}},
		{"no layout", tarOf(t, "README", "hi"), "", []string{"neither an OCI layout", "manifest.json"}},
		{"index.json not JSON", tarOf(t, "index.json", "{"), "", []string{"invalid metadata", "index.json"}},
		{"manifest.json not JSON", tarOf(t, "manifest.json", "{"), "", []string{"invalid metadata", "manifest.json"}},
		{"blob missing", tarOf(t, "index.json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+missing+`","size":10}]}`), "", []string{"blob missing", missing}},
		{"no such image", sample, "example.com/nope:1", []string{"no image matches example.com/nope:1", "@0", "example.com/ocitar/sample:1"}},
		{"several images", twoImageArchive(t), "", []string{"more than one image", "example.com/one:1", "example.com/two:1"}},
		{"bad selector", sample, "@x", []string{"invalid image selector"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.tar")
			if tt.data != nil {
				if err := os.WriteFile(path, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ref := "oci-tar:" + path
			if tt.selector != "" {
				ref += ":" + tt.selector
			}
			out := filepath.Join(dir, "out")
			for _, args := range [][]string{{"copy", "-q", ref, "dir:" + out}, {"inspect", ref}} {
				status, stdout, stderr := ocitar(t, args...)
				if status != 1 || stdout != "" {
					t.Errorf("%s: exit %d, stdout %q", args[0], status, stdout)
				}
				if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "ocitar: ") {
					t.Errorf("%s: stderr is not one line: %q", args[0], stderr)
				}
				for _, w := range append(tt.want, path) {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s: %q does not mention %q", args[0], stderr, w)
					}
				}
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the destination was created: %v", err)
			}
		})
	}
}

// TestBadCredentialsNotEchoed: a malformed credentials flag fails with one
// line that does not repeat the password.
func TestBadCredentialsNotEchoed(t *testing.T) {
	const secret = "s3cret-pa55"
	tests := [][]string{
		{"copy", "--src-creds", ":" + secret, "docker://127.0.0.1:1/a:1", "dir:" + t.TempDir()},
		{"serve", "--upstream", "http://127.0.0.1:1", "--upstream-creds", secret},
		{"serve", "--upstream", "http://127.0.0.1:1", "--upstream-creds", "example.com=" + secret},
	}
	for _, args := range tests {
		status, _, stderr := ocitar(t, args...)
		if status != 1 || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, secret) {
			t.Errorf("%q: exit %d, stderr %q; want one line without the password", args[:3], status, stderr)
		}
	}
}
