package transport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewArchiveWriterRefusesSymlink: a destination that is a symbolic link is
// refused, whether the archive is added to or replaced; the link, its target
// and the directory are left as they were.
func TestNewArchiveWriterRefusesSymlink(t *testing.T) {
	for _, replace := range []bool{false, true} {
		t.Run(map[bool]string{false: "add", true: "replace"}[replace], func(t *testing.T) {
			dir := t.TempDir()
			target, link := filepath.Join(dir, "target"), filepath.Join(dir, "out.tar")
			if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("target", link); err != nil {
				t.Fatal(err)
			}
			a, err := NewArchiveWriter(nil, link, ArchiveOptions{Replace: replace})
			if err == nil {
				a.Close()
				t.Fatal("NewArchiveWriter accepted a symbolic link")
			}
			if !strings.Contains(err.Error(), link+" is a symbolic link (to target)") {
				t.Errorf("error %q, want it to name the link", err)
			}
			if data, err := os.ReadFile(target); err != nil || string(data) != "precious" {
				t.Errorf("target holds %q, %v", data, err)
			}
			if got, err := os.Readlink(link); err != nil || got != "target" {
				t.Errorf("link reads %q, %v", got, err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 2 {
				t.Errorf("%d files in %s, want the link and its target", len(entries), dir)
			}
		})
	}
}
