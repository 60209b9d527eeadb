package source

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func identityOf(t *testing.T, path string) string {
	t.Helper()
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Identity()
}

func TestFileIdentity(t *testing.T) {
	mtime := time.Unix(1_700_000_000, 0)
	none := func(string) error { return nil }
	tests := []struct {
		name   string
		change func(path string) error
		mtime  time.Time // set after the change
		same   bool
	}{
		{"reopened", none, mtime, true},
		{"head rewritten, same size and mtime", func(p string) error { return rewriteAt(p, 10) }, mtime, false},
		{"tail rewritten, same size and mtime", func(p string) error { return rewriteAt(p, 3<<20-10) }, mtime, false},
		{"touched", none, mtime.Add(time.Second), false},
		{"grown", appendByte, mtime, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.tar")
			if err := os.WriteFile(path, make([]byte, 3<<20), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			before := identityOf(t, path)
			if err := tt.change(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, tt.mtime, tt.mtime); err != nil {
				t.Fatal(err)
			}
			if after := identityOf(t, path); (after == before) != tt.same {
				t.Errorf("identity before %s, after %s; same = %v, want %v", before, after, after == before, tt.same)
			}
		})
	}
}

func rewriteAt(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt([]byte{1}, off)
	return err
}

func appendByte(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte{1})
	return err
}

func TestOpenFileRefusesDirectory(t *testing.T) {
	if _, err := OpenFile(t.TempDir()); err == nil {
		t.Fatal("OpenFile of a directory succeeded")
	}
}
