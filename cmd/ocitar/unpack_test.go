package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUnpack(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		image string
		arch  string // etc/arch of the image unpacked
	}{
		{"docker-save archive", nil, "oci-tar:../../testdata/sample.docker.tar", "linux/amd64"},
		{"index, platform chosen", []string{"--platform", "linux/arm64"}, "oci-tar:../../testdata/sample-multi.oci.tar:example.com/ocitar/multi:1", "linux/arm64/v8"},
		{"index, platform overridden", []string{"--override-arch", "arm64", "--override-os", "linux"}, "oci-tar:../../testdata/sample-multi.oci.tar:example.com/ocitar/multi:1", "linux/arm64/v8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rootfs")
			args := slices.Concat([]string{"unpack"}, tt.flags, []string{tt.image, dir})
			if out := mustOcitar(t, args...); out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			for file, want := range map[string]string{"etc/greeting": "overridden\n", "etc/arch": tt.arch + "\n"} {
				if got, err := os.ReadFile(filepath.Join(dir, file)); err != nil || string(got) != want {
					t.Errorf("%s: %q, %v; want %q", file, got, err, want)
				}
			}
		})
	}
}

func TestUnpackFailsCleanly(t *testing.T) {
	multi := "oci-tar:../../testdata/sample-multi.oci.tar:example.com/ocitar/multi:1"
	sample := "oci-tar:../../testdata/sample.docker.tar"
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) string // makes the image and what is at dir, returns the image
		flags   []string
		want    []string // in the error line
	}{
		{"platform missing from the index", fixedImage(multi), []string{"--platform", "linux/s390x"}, []string{"s390x", "sample-multi.oci.tar"}},
		{"platform of a single image differs", fixedImage(sample), []string{"--platform", "linux/s390x"}, []string{"the image is for linux/amd64, not linux/s390x"}},
		{"bad platform", fixedImage(sample), []string{"--platform", "linux"}, []string{`--platform "linux"`, "OS/ARCH"}},
		{"destination not empty", func(t *testing.T, dir string) string {
			mkdirAll(t, filepath.Join(dir, "x"))
			return sample
		}, nil, []string{"rootfs", "not empty"}},
		{"destination unwritable", func(t *testing.T, dir string) string {
			if err := os.Remove(filepath.Dir(dir)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Dir(dir), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return sample
		}, nil, []string{"rootfs", "not a directory"}},
		{"layer corrupt", corruptLayer, nil, []string{"digest mismatch", "layer 1 of 2"}},
		{"more entries than --max-entries", fixedImage(sample), []string{"--max-entries", "5"}, []string{"too large", "more than 5 entries"}},
		{"more bytes than --max-bytes", fixedImage(sample), []string{"--max-bytes", "1000"}, []string{"too large", "more than 1000 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "sub", "rootfs")
			mkdirAll(t, filepath.Dir(dir))
			img := tt.prepare(t, dir)
			before := listDir(t, filepath.Dir(dir))
			status, stdout, stderr := ocitar(t, slices.Concat([]string{"unpack"}, tt.flags, []string{img, dir})...)
			if status != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", status, stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "ocitar: ") {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("%q does not mention %q", stderr, w)
				}
			}
			if after := listDir(t, filepath.Dir(dir)); !slices.Equal(after, before) {
				t.Errorf("%s holds %q after the failure, %q before", filepath.Dir(dir), after, before)
			}
		})
	}
}

func fixedImage(ref string) func(*testing.T, string) string {
	return func(*testing.T, string) string { return ref }
}

// corruptLayer copies the sample to a dir: image whose first layer has one byte changed.
func corruptLayer(t *testing.T, _ string) string {
	out := filepath.Join(t.TempDir(), "image")
	mustOcitar(t, "copy", "-q", "oci-tar:../../testdata/sample.docker.tar", "dir:"+out)
	var largest string
	var size int64
	for _, name := range listDir(t, out) {
		if fi, err := os.Stat(filepath.Join(out, name)); err == nil && fi.Size() > size {
			largest, size = name, fi.Size()
		}
	}
	path := filepath.Join(out, largest)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return "dir:" + out
}

func mkdirAll(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// listDir lists the names in dir, nil if it is not a directory.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
