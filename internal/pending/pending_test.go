package pending

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
)

func TestFile(t *testing.T) {
	commit := func(p *File) error { return p.Commit() }
	abort := func(p *File) error { return p.Abort() }
	tests := []struct {
		name   string
		old    string              // content of the path before, "" for no file
		finish []func(*File) error // called in turn, each must succeed
		want   string              // content of the path after, "" for no file, "new" for what was written
		size   int                 // of what is written: 0 is "new", more starts write-back on the way
	}{
		{"Commit replaces a file", "old", []func(*File) error{commit}, "new", 0},
		{"Commit creates a file", "", []func(*File) error{commit}, "new", 0},
		{"Abort keeps the old file", "old", []func(*File) error{abort}, "old", 0},
		{"Abort creates nothing", "", []func(*File) error{abort}, "", 0},
		{"Abort twice", "old", []func(*File) error{abort, abort}, "old", 0},
		{"Abort after Commit does nothing", "old", []func(*File) error{commit, abort}, "new", 0},
		{"Commit after write-back started", "old", []func(*File) error{commit}, "new", 3*writebackEvery + 5},
		{"Abort after write-back started", "old", []func(*File) error{abort, abort}, "old", 3*writebackEvery + 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.tar")
			if tt.old != "" {
				if err := os.WriteFile(path, []byte(tt.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			content := []byte("new")
			if tt.size > 0 {
				content = testimage.Bytes(5, tt.size)
			}
			for rest := content; len(rest) > 0; rest = rest[min(len(rest), 1<<20):] {
				if _, err := p.Write(rest[:min(len(rest), 1<<20)]); err != nil {
					t.Fatal(err)
				}
			}
			want := tt.want
			if want == "new" {
				want = string(content)
			}
			if got := readOrEmpty(t, path); got != tt.old {
				t.Fatalf("before finishing, %s holds %q, want %q", path, got, tt.old)
			}
			for i, f := range tt.finish {
				if err := f(p); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if got := readOrEmpty(t, path); got != want {
				t.Errorf("%s holds %d bytes, want the %d of %q", path, len(got), len(want), tt.want)
			}
			if tt.want == "new" {
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o644 {
					t.Errorf("mode %v, want 0644", st.Mode().Perm())
				}
			}
			var left []string
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != "out.tar" {
					left = append(left, e.Name())
				}
			}
			if len(left) > 0 {
				t.Errorf("files left beside %s: %v", path, left)
			}
		})
	}
	t.Run("Create in a missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "out.tar")
		p, err := Create(path)
		if err == nil {
			p.Abort()
			t.Fatal("Create succeeded")
		}
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("error %q, want a not-exist error naming %s", err, path)
		}
	})
}

// readOrEmpty reads the file at path, "" when there is none.
func readOrEmpty(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestFileWrite writes past several write-back thresholds, patching
// earlier bytes on the way as the Writer does, and checks the committed bytes.
func TestFileWrite(t *testing.T) {
	tests := []struct {
		name  string
		chunk int
		total int
	}{
		{"below the threshold", 1 << 10, writebackEvery / 2},
		{"chunks across thresholds", 3 << 20, 3 * writebackEvery},
		{"one write larger than the threshold", 2 * writebackEvery, 2 * writebackEvery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.tar")
			p, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, tt.total)
			for i := range want {
				want[i] = byte(i * 7)
			}
			for off := 0; off < tt.total; off += tt.chunk {
				if _, err := p.Write(want[off:min(off+tt.chunk, tt.total)]); err != nil {
					t.Fatal(err)
				}
			}
			want[1] = 'x'
			if _, err := p.WriteAt([]byte{'x'}, 1); err != nil {
				t.Fatal(err)
			}
			if err := p.Commit(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("committed %d bytes differ from the %d written", len(got), len(want))
			}
		})
	}
}
