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
	rss       int64   // peak resident set, bytes
	peaks     []int64 // peak bytes under the run's TMPDIR, then under each other directory it watched
	outBytes  int64   // of the command's output file, if it names one
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
// peak bytes under TMPDIR and under each of watch, sampled beside it.
func run(argv, env []string, tmp *tmpDir, watch ...func() int64) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "TMPDIR="+tmp.path), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	peaks := samplePeaks(tmp.every(), append([]func() int64{tmp.used}, watch...)...)
	err := cmd.Wait()
	wall := time.Since(start)
	s := sample{wall: wall, peaks: peaks.stop()}
	if err != nil {
		return s, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	s.cpu, s.rss = time.Duration(ru.Utime.Nano()+ru.Stime.Nano()), ru.Maxrss<<10
	return s, nil
}

// every is how often the usage of t is sampled: statfs of a tmpfs is one
// system call, a walk of a directory costs more.
func (t *tmpDir) every() time.Duration {
	if t.mounted {
		return time.Millisecond
	}
	return 10 * time.Millisecond
}

// peakSampler reads the usage of some directories on a goroutine of its
// own, every so often, until stopped, and keeps the largest of each.
type peakSampler struct {
	quit chan struct{}
	done chan []int64
}

func samplePeaks(every time.Duration, used ...func() int64) *peakSampler {
	p := &peakSampler{quit: make(chan struct{}), done: make(chan []int64, 1)}
	go p.loop(every, used)
	return p
}

func (p *peakSampler) loop(every time.Duration, used []func() int64) {
	peaks := make([]int64, len(used))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		for i, u := range used {
			peaks[i] = max(peaks[i], u())
		}
		select {
		case <-p.quit:
			p.done <- peaks
			return
		case <-tick.C:
		}
	}
}

// stop ends the sampling and returns the peak of each directory, in order.
func (p *peakSampler) stop() []int64 {
	close(p.quit)
	return <-p.done
}
