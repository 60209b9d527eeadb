package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sample is one run of a command.
type sample struct {
	wall, cpu time.Duration
	rss       int64 // peak resident set, bytes
	tmpPeak   int64 // peak bytes under the run's TMPDIR
}

// tmpDir is the private TMPDIR of one run and how its peak usage is sampled.
type tmpDir struct {
	path    string
	mounted bool // a private tmpfs, sampled with statfs
}

// newTmpDir makes an empty directory for one run; as root it is a private
// tmpfs, whose usage statfs reads in one system call.
func newTmpDir(parent string, tryMount bool) (*tmpDir, error) {
	path := filepath.Join(parent, "tmp")
	unmountStale(path)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	t := &tmpDir{path: path}
	if tryMount && syscall.Mount("tmpfs", path, "tmpfs", 0, "size=16g") == nil {
		t.mounted = true
	}
	return t, nil
}

func (t *tmpDir) used() int64 {
	if t.mounted {
		var st syscall.Statfs_t
		if syscall.Statfs(t.path, &st) != nil {
			return 0
		}
		return int64(st.Blocks-st.Bfree) * st.Bsize
	}
	return dirSize(t.path)
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func (t *tmpDir) remove() error {
	if t.mounted {
		if err := syscall.Unmount(t.path, 0); err != nil {
			return fmt.Errorf("unmounting %s: %w", t.path, err)
		}
	}
	return os.RemoveAll(t.path)
}

// method says how peak TMPDIR usage was sampled, for RESULTS.md.
func (t *tmpDir) method() string {
	if t.mounted {
		return "each run gets a private tmpfs as TMPDIR (and --tmpdir); its used blocks are read with statfs every millisecond"
	}
	return "each run gets a private empty TMPDIR (and --tmpdir); the sizes of its files are summed by a walk every 10 ms"
}

// run runs argv with env added, TMPDIR private, its output discarded, and
// measures it: wall time, CPU time and peak RSS from the child's rusage, and
// peak bytes under TMPDIR sampled beside it.
func run(argv, env []string, tmp *tmpDir) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "TMPDIR="+tmp.path), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	every := 10 * time.Millisecond
	if tmp.mounted {
		every = time.Millisecond
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			wall := time.Since(start)
			if err != nil {
				return sample{}, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			return sample{wall: wall, cpu: cpu, rss: ru.Maxrss << 10, tmpPeak: peak}, nil
		case <-tick.C:
			peak = max(peak, tmp.used())
		}
	}
}
