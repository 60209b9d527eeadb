package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDefaultCacheDirUnusable: a default cache directory that cannot be made
// (a home that is read-only, or not a directory) leaves ocitar without a
// cache, as for any archive that needs none; a --cache-dir given that cannot
// be made is an error.
func TestDefaultCacheDirUnusable(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", notDir)
	zst := filepath.Join(t.TempDir(), "sample.tar.zst")
	mustOcitar(t, "recompress", "-q", "../../testdata/sample.docker.tar", zst)
	for _, args := range [][]string{
		{"version"},
		{"ls", "../../testdata/sample.docker.tar"},
		{"ls", zst},
	} {
		mustOcitar(t, args...)
	}
	if status, _, stderr := ocitar(t, "--cache-dir", filepath.Join(notDir, "cache"), "ls", zst); status != 1 {
		t.Errorf("ocitar --cache-dir %s/cache ls: exit %d, want 1: %s", notDir, status, stderr)
	}
}
