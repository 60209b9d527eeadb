package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// The recording mirror rows of issue 23: docker-registry holding the main
// image, pulled directly beside a pull through a fresh
// `ocitar serve --upstream URL --record OUT` of it, in turn.

// mirrorTitle names the recording mirror rows in the report and for -only.
// No other group's title holds "mirror" (see config.mirrorOnly).
const mirrorTitle = "recording mirror"

// mirrorSnapshotGrace is how long the final snapshot may take after SIGTERM
// before the harness kills the mirror and fails.
const mirrorSnapshotGrace = 5 * time.Minute

// mirrorSample is one run: a direct pull, then a mirror's life.
type mirrorSample struct {
	direct   pullSample    // the pull from docker-registry
	ready    time.Duration // from the start of the mirror to its ready line
	cold     pullSample    // the first pull through it, every blob fetched from docker-registry
	warm     pullSample    // the second pull through it
	snapshot time.Duration // from SIGTERM to its exit, the final snapshot written
	cpu      time.Duration // the mirror's user+system time over its life
	rss      int64         // the mirror's peak resident set over its life (rusage), bytes
	disk     int64         // peak bytes in the mirror's directory: the blobs it kept and OUT
	recorded int64         // bytes of OUT
}

// mirrorResult is every run of the recording mirror rows.
type mirrorResult struct {
	bytes   int64 // of one pull: manifest, config and layers
	samples []mirrorSample
}

// mirrorRig is docker-registry holding the image, and the directory of each
// mirror the runs start.
type mirrorRig struct {
	ocitar   string
	registry *serveServer
	dir      string // the mirror's: OUT, the blobs it keeps beside it, its --cache-dir
	manifest string // digest of the image's manifest on docker-registry
}

// measureMirror starts docker-registry with the main image pushed into it,
// then runs the direct pull and the mirror in turn, servingRuns times.
func measureMirror(c config, co corpus) (mirrorResult, error) {
	var res mirrorResult
	registry, err := serveStartRegistry(c, co.large.oci)
	if err != nil {
		return res, fmt.Errorf("starting docker-registry: %w", err)
	}
	defer registry.stop()
	manifest, err := serveGet(manifestURL(registry.host, largeName), false, "")
	if err != nil {
		return res, err
	}
	g := &mirrorRig{ocitar: c.ocitar, registry: registry, dir: filepath.Join(c.work, "mirror"), manifest: digest.FromBytes(manifest).String()}
	defer os.RemoveAll(g.dir)
	for range servingRuns(c) {
		s, n, err := g.run()
		if err != nil {
			return res, err
		}
		res.bytes = n
		res.samples = append(res.samples, s)
	}
	return res, nil
}

// run pulls the image from docker-registry, then through a new mirror
// recording into an empty directory, twice, stops the mirror and checks
// what it recorded.
func (g *mirrorRig) run() (mirrorSample, int64, error) {
	var s mirrorSample
	var err error
	registry := g.registry.cmd.Process.Pid
	if s.direct, _, err = timedPull(g.registry.host, registry); err != nil {
		return s, 0, fmt.Errorf("direct pull: %w", err)
	}
	if err := os.RemoveAll(g.dir); err != nil {
		return s, 0, err
	}
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return s, 0, err
	}
	out := filepath.Join(g.dir, "pulled.tar")
	peaks := samplePeaks(10*time.Millisecond, func() int64 { return dirSize(g.dir) })
	n, err := g.mirrorLife(&s, out)
	s.disk = peaks.stop()[0]
	if err != nil {
		return s, 0, err
	}
	if err := g.checkLockList(out + ".lock.json"); err != nil {
		return s, 0, err
	}
	s.recorded, err = fileSize(out)
	return s, n, err
}

// mirrorLife starts the mirror recording to out, pulls through it cold and
// warm, and stops it, waiting for the final snapshot.
func (g *mirrorRig) mirrorLife(s *mirrorSample, out string) (int64, error) {
	begin := time.Now()
	srv, err := serveStartOcitar([]string{g.ocitar, "--cache-dir", filepath.Join(g.dir, "cache")},
		"--upstream", "http://"+g.registry.host, "--record", out)
	if err != nil {
		return 0, err
	}
	defer srv.stop()
	s.ready = time.Since(begin)
	var n int64
	servers := []int{srv.cmd.Process.Pid, g.registry.cmd.Process.Pid}
	if s.cold, n, err = timedPull(srv.host, servers...); err != nil {
		return 0, fmt.Errorf("cold pull through the mirror: %w", err)
	}
	if s.warm, _, err = timedPull(srv.host, servers...); err != nil {
		return 0, fmt.Errorf("warm pull through the mirror: %w", err)
	}
	begin = time.Now()
	if err := srv.stopWithin(mirrorSnapshotGrace); err != nil {
		return 0, fmt.Errorf("final snapshot: %w", err)
	}
	s.snapshot = time.Since(begin)
	ru := srv.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	s.cpu, s.rss = time.Duration(ru.Utime.Nano()+ru.Stime.Nano()), ru.Maxrss<<10
	return n, nil
}

// pullSample is one pull: its wall time, and the CPU time that the client
// (this process) and the servers behind it spent meanwhile.
type pullSample struct{ wall, cpu time.Duration }

// timedPull is a verified pull of the main image from the registry at host,
// its sample and the bytes it received; servers are the PIDs of the
// processes serving it.
func timedPull(host string, servers ...int) (pullSample, int64, error) {
	before, err := cpuOf(servers)
	if err != nil {
		return pullSample{}, 0, err
	}
	begin := time.Now()
	n, err := servePull(manifestURL(host, largeName), true)
	wall := time.Since(begin)
	if err != nil {
		return pullSample{}, 0, err
	}
	after, err := cpuOf(servers)
	return pullSample{wall, after - before}, n, err
}

// cpuOf is the user+system time of this process and of the processes pids.
func cpuOf(pids []int) (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range pids {
		t, err := processCPU(pid)
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

// checkLockList checks that the lock list at path names the pulled image
// with the manifest docker-registry holds.
func (g *mirrorRig) checkLockList(path string) error {
	var lock struct{ Images map[string]string }
	if err := readJSONFile(path, &lock); err != nil {
		return err
	}
	if got := lock.Images[largeName]; got != g.manifest {
		data, _ := json.Marshal(lock.Images)
		return fmt.Errorf("%s: want %s at %s, got %s", path, largeName, g.manifest, data)
	}
	return nil
}
