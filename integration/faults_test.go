package integration

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallImage is the source of the old destinations the fault tests start from.
func smallImage() string {
	return "oci-tar:" + testdata("peers/b-oci-one.skopeo.tar")
}

// placeOld writes a small image to path, the destination a test then fails to
// replace, and returns the file's bytes.
func placeOld(t *testing.T, path string) []byte {
	t.Helper()
	run(t, ocitar, "copy", "--insecure-policy", "-q", smallImage(), "oci-tar:"+path+":old")
	return readFile(t, path)
}

// largeImage is the name of the image in largeArchive.
const largeImage = "example.com/ocitar/large:1"

// largeArchive writes an OCI-layout tar of one image, largeImage, of 8
// layers of incompressible data, mib MiB in all, and returns its path.
func largeArchive(t *testing.T, mib int) string {
	t.Helper()
	dir := t.TempDir()
	gen := goCommand("run", "./internal/testimage/gentestdata", "-large", strconv.Itoa(mib), dir)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gentestdata failed: %v\n  command: %s\n%s", err, commandLine(gen), out)
	}
	return filepath.Join(dir, "large.oci.tar")
}

// TestKilledCopyLeavesOldFile kills copies into an existing archive at random
// moments: the archive must be the old file or the whole new one, never a part,
// and nothing but the killed copies' temporary files may appear beside it.
func TestKilledCopyLeavesOldFile(t *testing.T) {
	const (
		seed        = 20240611
		wantKills   = 20
		maxAttempts = 60
	)
	src := "oci-tar:" + largeArchive(t, 64)

	// One uninterrupted run, into a copy of the old destination elsewhere,
	// gives the time to kill within and the bytes of a committed copy.
	measured := filepath.Join(t.TempDir(), "out.tar")
	old := placeOld(t, measured)
	start := time.Now()
	run(t, ocitar, "copy", "--insecure-policy", "-q", src, "oci-tar:"+measured+":big")
	full := time.Since(start)
	committed := sha256Digest(readFile(t, measured))

	dir := t.TempDir()
	out := filepath.Join(dir, "out.tar")
	if err := os.WriteFile(out, old, 0o644); err != nil {
		t.Fatal(err)
	}
	prefix := ".out.tar.ocitar-"
	rng := rand.New(rand.NewPCG(seed, seed))
	kills, attempts, lateKills, finished := 0, 0, 0, 0
	for ; attempts < maxAttempts && kills < wantKills; attempts++ {
		before := dirNames(t, dir)
		delay := time.Duration(rng.Float64() * 0.9 * float64(full))
		killed := copyKilledAfter(t, delay, src, out)

		data := readFile(t, out)
		switch {
		case bytes.Equal(data, old):
			if !killed {
				t.Fatalf("attempt %d: ocitar exited 0 but %s still holds the old archive", attempts, out)
			}
		case sha256Digest(data) == committed:
			if killed {
				lateKills++ // killed after the rename: the copy had committed
			} else {
				finished++
			}
			if err := os.WriteFile(out, old, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("attempt %d, killed after %v: %s is neither the old archive nor the committed one (%d bytes, %s)",
				attempts, delay, out, len(data), sha256Digest(data))
		}

		var appeared []string
		for _, name := range dirNames(t, dir) {
			if !slices.Contains(before, name) {
				appeared = append(appeared, name)
			}
		}
		switch {
		case len(appeared) > 1 || len(appeared) == 1 && !killed:
			t.Fatalf("attempt %d (killed %v): new files %v in %s", attempts, killed, appeared, dir)
		case len(appeared) == 1:
			kills++ // the temporary file shows the copy was writing when killed
		}
	}
	t.Logf("one copy takes %v; %d attempts: %d killed mid-copy, %d killed after committing, %d finished first",
		full, attempts, kills, lateKills, finished)
	if kills < wantKills {
		t.Fatalf("only %d of %d attempts were killed mid-copy, want %d", kills, attempts, wantKills)
	}
	leftovers := 0
	for _, name := range dirNames(t, dir) {
		switch {
		case name == "out.tar":
		case strings.HasPrefix(name, prefix):
			leftovers++
		default:
			t.Errorf("%s: unexpected file %s", dir, name)
		}
	}
	if leftovers != kills {
		t.Errorf("%s: %d temporary files %s*, want one per copy killed mid-copy (%d)", dir, leftovers, prefix, kills)
	}
}

// copyKilledAfter starts ocitar copying src into out, sends it SIGKILL after
// delay, and reports whether the kill ended it; a copy that fails otherwise
// fails the test.
func copyKilledAfter(t *testing.T, delay time.Duration, src, out string) bool {
	t.Helper()
	cmd := command(t, nil, ocitar, "copy", "--insecure-policy", "-q", src, "oci-tar:"+out+":big")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", commandLine(cmd), err)
	}
	timer := time.AfterFunc(delay, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if err == nil {
		return false
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Fatalf("ocitar failed: %v\n  command: %s\n  ocitar stderr: %s", err, commandLine(cmd), stderr.String())
	return false
}

// TestWriteFaults makes copies fail: each must exit 1 with one line on stderr
// that names the destination and the problem, leave no temporary file, and
// leave the old destination as it was.
func TestWriteFaults(t *testing.T) {
	tests := []struct {
		name  string
		fs    string // "" a directory, "missing" none, "ro" a read-only tmpfs, "full" a tmpfs of 1 MiB
		old   string // the destination before: "" none, "image" a small image, "text" a text file
		src   func(t *testing.T) string
		flags []string
		sel   string // the destination's image name
		want  string // in the error
	}{
		{name: "directory missing", fs: "missing", src: source(smallImage), sel: "new", want: "no such file or directory"},
		{name: "read-only directory", fs: "ro", src: source(smallImage), sel: "new", want: "read-only file system"},
		{name: "read-only directory, old file", fs: "ro", old: "image", src: source(smallImage), sel: "new", want: "read-only file system"},
		{name: "disk full", fs: "full", old: "image", src: source(func() string { return "oci-tar:" + testdata("sample.docker.tar") }), sel: "new", want: "no space left on device"},
		{name: "source corrupt mid-blob", old: "image", src: corruptSource, flags: []string{"--all"}, sel: "new", want: "corrupt.tar: blobs/sha256/"},
		{name: "destination not an image tar", old: "text", src: source(smallImage), sel: "new", want: "not an image archive"},
		{name: "invalid name", src: source(smallImage), sel: "bad name!", want: "not a valid image name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src(t)
			base := t.TempDir()
			dir := filepath.Join(base, "dest")
			out := filepath.Join(dir, "out.tar")
			if tt.fs != "missing" {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			switch {
			case tt.fs == "full":
				mountTmpfs(t, dir, "size=1m")
			case tt.fs == "ro" && tt.old == "":
				mountTmpfs(t, dir, "ro,size=4m")
			case tt.fs == "ro":
				mountTmpfs(t, dir, "size=4m") // remounted read-only below, once the old file is there
			}
			var old []byte
			switch tt.old {
			case "image":
				old = placeOld(t, out)
			case "text":
				old = []byte("a text file, not an image archive\n")
				if err := os.WriteFile(out, old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.fs == "ro" && tt.old != "" {
				mount(t, "-o", "remount,ro", dir)
			}

			args := append([]string{"copy", "--insecure-policy", "-q"}, tt.flags...)
			stderr := runFailing(t, ocitar, append(args, src, "oci-tar:"+out+":"+tt.sel)...)
			line, rest, _ := strings.Cut(stderr, "\n")
			if rest != "" || !strings.HasPrefix(line, "ocitar: ") || !strings.Contains(line, out) || !strings.Contains(line, tt.want) {
				t.Errorf("stderr %q: want one line starting %q that names %s and says %q", stderr, "ocitar: ", out, tt.want)
			}

			wantNames := []string{}
			if old != nil {
				wantNames = []string{"out.tar"}
				if got := readFile(t, out); !bytes.Equal(got, old) {
					t.Errorf("%s changed: %d bytes %s, was %d bytes %s", out, len(got), sha256Digest(got), len(old), sha256Digest(old))
				}
			}
			if tt.fs == "missing" {
				dir = base
			}
			if names := dirNames(t, dir); !slices.Equal(names, wantNames) {
				t.Errorf("%s holds %v after the failure, want %v", dir, names, wantNames)
			}
		})
	}
}

// source is a row's source that needs no preparation.
func source(ref func() string) func(*testing.T) string {
	return func(*testing.T) string { return ref() }
}

// corruptSource is a copy of testdata/sample-multi.oci.tar with one byte
// flipped in the middle of its largest blob.
func corruptSource(t *testing.T) string {
	t.Helper()
	data := readFile(t, testdata("sample-multi.oci.tar"))
	name, off, size := largestEntry(t, data)
	if want := "sha256:" + strings.TrimPrefix(name, "blobs/sha256/"); sha256Digest(data[off:off+size]) != want {
		t.Fatalf("the entry %s found at offset %d does not hold its blob", name, off)
	}
	data[off+size/2] ^= 0xff
	path := filepath.Join(t.TempDir(), "corrupt.tar")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return "oci-tar:" + path
}

// largestEntry finds the largest regular file of a tar: its name, and the
// offset and size of its data.
func largestEntry(t *testing.T, data []byte) (string, int64, int64) {
	t.Helper()
	cr := &countingReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	var name string
	var off, size int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > size {
			name, off, size = hdr.Name, cr.n, hdr.Size
		}
	}
	if size == 0 {
		t.Fatal("no regular file in the tar")
	}
	return name, off, size
}

// countingReader counts the bytes read through it; it does not seek, so
// archive/tar reads every byte and the count after Next is the entry's offset.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// mountTmpfs mounts a tmpfs with options opts on dir until the test ends.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	mount(t, "-t", "tmpfs", "-o", opts, "ocitar-test", dir)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// mount runs mount(8); the tests that need it run as root.
func mount(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("mount", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mount failed (these tests need root): %v\n  command: %s\n  mount stderr: %s", err, commandLine(cmd), out)
	}
}
