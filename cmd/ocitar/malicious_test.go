package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/malicious"
)

// binary is the ocitar built once for the tests that run it as a process.
var binary string

func TestMain(m *testing.M) {
	if file := os.Getenv(rssFileEnv); file != "" {
		os.Exit(measureRSS(file, os.Args[1:]))
	}
	os.Exit(runTests(m))
}

// rssFileEnv, when set, makes the test binary a small runner that runs its
// arguments as a command and writes the command's peak RSS to the file it
// names. The peak must be taken by a small process: Go starts commands with
// vfork, and Linux counts the high-water RSS of the process that starts a
// command into the command's own peak, so a test process that built a large
// input would be billed for it.
const rssFileEnv = "OCITAR_TEST_RSS_FILE"

func measureRSS(file string, args []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	if err := os.WriteFile(file, []byte(strconv.FormatInt(rss, 10)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	if ctx.Err() != nil {
		return 124
	}
	return cmd.ProcessState.ExitCode()
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ocitar-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "ocitar")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ocitar: %v\n%s", err, out)
		return 1
	}
	// Every command of the tests, in process or not, keeps its cache there
	// rather than in the user's; set after the build, whose GOCACHE is under
	// XDG_CACHE_HOME too.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	return m.Run()
}

// Bounds of the malicious corpus test. The deadline only guards against a
// hang; it is not a measure of speed, so it is generous: a loaded machine
// took more than 5 s for too-many-entries.tar.
const (
	hangGuard = 60 * time.Second
	maxRSSKiB = 256 << 10
)

// TestMaliciousCorpus runs copy and verify on every hostile archive of the
// corpus (the Large ones generated here): each must exit 1 with one line on
// stderr naming the file and the problem, within the hang guard, under 256 MiB
// of peak memory, leaving nothing in TMPDIR, the destination directory or
// the index files and blobs of its --cache-dir.
func TestMaliciousCorpus(t *testing.T) {
	for _, c := range malicious.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			path := corpusFile(t, c)
			dest := t.TempDir()
			commands := map[string][]string{
				"copy":   {"--insecure-policy", "copy", "--quiet", "oci-tar:" + path, "oci-tar:" + filepath.Join(dest, "out.tar")},
				"verify": {"verify", path},
			}
			for _, name := range []string{"copy", "verify"} {
				tmp, cacheDir := t.TempDir(), t.TempDir()
				stderr, rss := runHostile(t, append([]string{"--cache-dir", cacheDir}, commands[name]...), tmp)
				lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], path) || !strings.Contains(lines[0], c.Problem) {
					t.Errorf("%s: stderr %q, want one line naming %s and %q", name, stderr, path, c.Problem)
				}
				if rss > maxRSSKiB {
					t.Errorf("%s: peak RSS %d KiB, limit %d KiB", name, rss, maxRSSKiB)
				}
				assertEmpty(t, tmp)
				assertEmpty(t, dest)
				assertNoFiles(t, filepath.Join(cacheDir, "index"), filepath.Join(cacheDir, "blobs"), filepath.Join(cacheDir, "tmp"))
			}
		})
	}
}

// assertNoFiles fails for every file under dirs, which may be missing;
// directories are allowed.
func assertNoFiles(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("%s is left after a failed command", path)
			}
			return nil
		})
	}
}

// corpusFile is the checked-in file of c, or a fresh one for a Large case.
func corpusFile(t *testing.T, c malicious.Case) string {
	t.Helper()
	if !c.Large {
		path, err := filepath.Abs(filepath.Join("../../testdata/malicious", c.Name))
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	data, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), c.Name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runHostile runs ocitar with TMPDIR set to tmp; it must exit 1. It returns
// stderr and the peak resident memory in KiB.
func runHostile(t *testing.T, args []string, tmp string) (string, int64) {
	t.Helper()
	rssFile := filepath.Join(t.TempDir(), "rss")
	cmd := exec.Command(os.Args[0], append([]string{binary}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, rssFileEnv+"="+rssFile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 124 {
		t.Fatalf("ocitar %s: killed after %v: %s", strings.Join(args, " "), hangGuard, stderr.String())
	}
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("ocitar %s: %v, want exit status 1; stderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	data, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatal(err)
	}
	rss, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), rss
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s holds %s after a failed command", dir, e.Name())
	}
}
