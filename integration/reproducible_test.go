package integration

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestReproducible runs the same copy twice to files and once to standard
// output: the three archives must be the same bytes, every entry dated
// SOURCE_DATE_EPOCH, or 1970 when it is unset.
func TestReproducible(t *testing.T) {
	tests := []struct {
		name, src string
		flags     []string
		epoch     string // SOURCE_DATE_EPOCH, "" for unset
		mtime     int64
	}{
		{"docker-save", "sample.docker.tar", nil, "", 0},
		{"index --all", "sample-multi.oci.tar", []string{"--all"}, "", 0},
		{"gzip docker-save", "peers/a-docker-2layer.crane-tarball.tar", nil, "", 0},
		{"docker-save epoch", "sample.docker.tar", nil, "1700000000", 1700000000},
		{"index --all epoch", "sample-multi.oci.tar", []string{"--all"}, "1700000000", 1700000000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			if tt.epoch != "" {
				env = []string{"SOURCE_DATE_EPOCH=" + tt.epoch}
			}
			dir := t.TempDir()
			copyTo := func(dest string) []byte {
				args := append([]string{"copy", "--insecure-policy", "-q"}, tt.flags...)
				return runEnv(t, env, ocitar, append(args, "oci-tar:"+testdata(tt.src), "oci-tar:"+dest+":example.com/repro/img:1")...)
			}
			first, second := filepath.Join(dir, "1.tar"), filepath.Join(dir, "2.tar")
			copyTo(first)
			copyTo(second)
			stdout := copyTo("-")

			want := readFile(t, first)
			if got := readFile(t, second); !bytes.Equal(got, want) {
				t.Errorf("two runs differ: %s is %s, %s is %s", first, sha256Digest(want), second, sha256Digest(got))
			}
			if !bytes.Equal(stdout, want) {
				t.Errorf("standard output differs from the file: %d bytes %s, want %d bytes %s",
					len(stdout), sha256Digest(stdout), len(want), sha256Digest(want))
			}
			entries := readTar(t, first)
			if len(entries) == 0 {
				t.Fatalf("%s has no entries", first)
			}
			for _, e := range entries {
				if e.mtime.Unix() != tt.mtime {
					t.Errorf("%s: entry %s dated %d, want %d", first, e.name, e.mtime.Unix(), tt.mtime)
				}
			}
		})
	}
}
