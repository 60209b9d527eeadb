package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ocitar/ocitar/internal/testimage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// hostileChars are what a name may carry to rewrite a terminal: every C0
// control, DEL, every C1 control, bidirectional and line-separator format
// characters, and bytes that are not UTF-8.
func hostileChars() []string {
	var chars []string
	for c := rune(0); c < 0x20; c++ {
		chars = append(chars, string(c))
	}
	chars = append(chars, "\x7f")
	for c := rune(0x80); c < 0xa0; c++ {
		chars = append(chars, string(c))
	}
	return append(chars, "\u202e", "\u2028", "\xff", "\xc3")
}

// hostileName is a name holding every hostile character but NUL, which no
// tar entry name can hold, and "/", which is not one.
func hostileName(prefix string) string {
	return prefix + strings.Join(hostileChars()[1:], "")
}

// hostileImage is an image whose config labels and environment hold every
// hostile character and whose one layer makes a file, a symlink and, last, a
// hard link to a missing file, each named with all of them.
func hostileImage(t *testing.T) testimage.Image {
	t.Helper()
	layer, err := testimage.Headers(
		tar.Header{Name: hostileName("file"), Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: hostileName("symlink"), Typeflag: tar.TypeSymlink, Linkname: hostileName("target")},
		tar.Header{Name: hostileName("hardlink"), Typeflag: tar.TypeLink, Linkname: hostileName("missing")},
	)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ocispec.ImageConfig{Labels: map[string]string{hostileName("key"): hostileName("value")}, Env: []string{hostileName("ENV=")}}
	return testimage.New("", ocispec.Platform{OS: "linux", Architecture: "amd64"}, [][]byte{layer}, cfg)
}

// hostileArchive writes an OCI layout listing hostileImage once per hostile
// character, named with it, and returns its path and the names.
func hostileArchive(t *testing.T, dir string) (string, []string) {
	t.Helper()
	img := hostileImage(t)
	var images []testimage.Image
	var names []string
	for i, c := range hostileChars() {
		img.Name = fmt.Sprintf("example.com/x%s[31mRED:%d", c, i)
		images = append(images, img)
		names = append(names, img.Name)
	}
	var buf bytes.Buffer
	if err := testimage.WriteOCILayout(&buf, testimage.OCIOptions{}, images...); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "hostile.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, names
}

// checkPrintable fails unless out is UTF-8 whose only unprintable rune is the newline.
func checkPrintable(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: not UTF-8: %q", what, out)
		return
	}
	for i, r := range out {
		if r != '\n' && !strconv.IsPrint(r) {
			t.Errorf("%s: raw %U at byte %d: %q", what, r, i, out)
			return
		}
	}
}

// asJSON is s as it reads back from JSON, which stores text that is not UTF-8 as U+FFFD.
func asJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// TestHostileNamesPrintEscaped feeds every command names, labels, entry
// names and link targets holding every control character, and checks that
// none reaches stdout or stderr raw, that each was printed (escaped), and
// that JSON output decodes to the exact values.
func TestHostileNamesPrintEscaped(t *testing.T) {
	dir := t.TempDir()
	archive, names := hostileArchive(t, dir)
	// A file name is the caller's, but verify prints it: a hostile one too.
	hostilePath := filepath.Join(dir, hostileName("copy"))
	if err := os.Link(archive, hostilePath); err != nil {
		t.Fatal(err)
	}
	brokenSave := filepath.Join(dir, "broken-save.tar")
	manifest, err := json.Marshal([]map[string]any{{"Config": hostileName("config"), "RepoTags": []string{"example.com/x:1"}, "Layers": []string{hostileName("layer")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(brokenSave, tarOf(t, "manifest.json", string(manifest)), 0o644); err != nil {
		t.Fatal(err)
	}
	nomatch := "oci-tar:" + archive + ":nomatch"
	// escapedName is how printLine shows names[1], whose hostile character is \x01.
	escapedName := `example.com/x\u0001[31mRED:1`
	tests := []struct {
		name  string
		args  []string
		wants []string // each in stdout or stderr
	}{
		{"ls", []string{"ls", archive}, []string{escapedName, `x\u001b[31mRED`, `x\u009b[31mRED`, `x\u202e[31mRED`}},
		{"inspect", []string{"inspect", "oci-tar:" + archive + ":@27"}, []string{`"key\u0001\u0002`, `\u007f\u0080`, `\u009f\u202e\u2028` + "\uFFFD\uFFFD\""}},
		{"inspect --config", []string{"inspect", "--config", "oci-tar:" + archive + ":@27"}, []string{`"ENV=\u0001`}},
		{"inspect, no match", []string{"inspect", nomatch}, []string{escapedName}},
		{"copy, several images", []string{"copy", "oci-tar:" + archive, "oci-tar:" + filepath.Join(dir, "copy.tar")}, []string{escapedName}},
		{"copy", []string{"copy", "oci-tar:" + archive + ":@1", "oci-tar:" + filepath.Join(dir, "copy.tar")}, []string{"Writing manifest"}},
		{"verify", []string{"verify", hostilePath}, []string{`copy\u0001\u0002`, "all verified"}},
		{"verify, broken", []string{"verify", brokenSave}, []string{`config\x01\x02`}},
		{"unpack", []string{"unpack", "oci-tar:" + archive + ":@1", filepath.Join(dir, "rootfs")}, []string{`missing\u0001\u0002`, `hardlink\x01\x02`}},
		{"unpack, no match", []string{"unpack", nomatch, filepath.Join(dir, "rootfs")}, []string{escapedName}},
		{"save, a name invalid as a destination", []string{"save", "-o", filepath.Join(dir, "save.tar"), "oci-tar:" + archive + ":@1"}, []string{escapedName, "not a valid image name"}},
		{"save, no match", []string{"save", "-o", filepath.Join(dir, "save.tar"), nomatch}, []string{escapedName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stdout, stderr := ocitar(t, tt.args...)
			checkPrintable(t, "stdout", stdout)
			checkPrintable(t, "stderr", stderr)
			for _, want := range tt.wants {
				if !strings.Contains(stdout+stderr, want) {
					t.Errorf("neither stdout %q nor stderr %q contains %q", stdout, stderr, want)
				}
			}
		})
	}

	t.Run("ls --json", func(t *testing.T) {
		stdout := mustOcitar(t, "ls", "--json", archive)
		checkPrintable(t, "stdout", stdout)
		var images []lsImage
		readJSONString(t, stdout, &images)
		var got, want []string
		for i, img := range images {
			got = append(got, img.Names...)
			want = append(want, asJSON(t, names[i]))
		}
		if !slices.Equal(got, want) {
			t.Errorf("names %q, want %q", got, want)
		}
	})
	t.Run("inspect, exact JSON", func(t *testing.T) {
		stdout := mustOcitar(t, "inspect", "oci-tar:"+archive+":@0")
		var out inspectOutput
		readJSONString(t, stdout, &out)
		if got, want := out.Labels[asJSON(t, hostileName("key"))], asJSON(t, hostileName("value")); got != want {
			t.Errorf("label %q, want %q", got, want)
		}
	})
}
