package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The serve rows of issue 14: `ocitar serve` of the large OCI tar side by
// side with docker-registry holding the same image, pushed into it.

// serveConcurrency is the number of clients that pull the image at once.
const serveConcurrency = 8

// serveRuns is the runs of each server in a full run, of the serve rows and
// the remote rows: more than the other rows take, since one run is short
// and the machine is shared.
const serveRuns = 5

// serveTitle names the serve rows in the report and for -only.
const serveTitle = "serve an archive vs docker-registry"

// Names of the two servers in the report.
const (
	serveOcitar   = "ocitar serve X"
	serveRegistry = "docker-registry (push X, then serve)"
)

// serveSample is one run of one server.
type serveSample struct {
	ready      time.Duration // from the start of the server to its readiness (ocitar's ready line)
	firstPull  time.Duration // from the start of the server to the end of the first pull
	concurrent time.Duration // of serveConcurrency full pulls at once
	cpu        time.Duration // the server's user+system time during them
	rss        int64         // the server's peak resident set (VmHWM), bytes
	disk       int64         // bytes the server stored besides the archive
}

// serveRow is every run of one server.
type serveRow struct {
	name    string
	samples []serveSample
}

// serveResult is what the serve rows measured.
type serveResult struct {
	bytes int64 // of the manifest, config and layers of one pull
	rows  []serveRow
}

// serveServer is a server the rows pull from.
type serveServer struct {
	cmd     *exec.Cmd
	host    string
	exited  chan struct{} // closed once the process has exited, with waitErr set
	waitErr error         // of cmd.Wait
	store   string        // its storage directory, or ""
	dir     string        // removed when it stops, or ""
}

// measureServe runs each server in turn, at least serveRuns times (once for
// -smoke), on the large OCI tar.
func measureServe(c config, co corpus) (serveResult, error) {
	return measureServers(c, []serveStart{
		{serveOcitar, func() (*serveServer, error) { return serveStartOcitar([]string{c.ocitar}, co.large.oci) }},
		{serveRegistry, func() (*serveServer, error) { return serveStartRegistry(c, co.large.oci) }},
	}, largeName)
}

// serveStart is a server of the report and how to start it.
type serveStart struct {
	name  string
	start func() (*serveServer, error)
}

// measureServers runs each server in turn, servingRuns times, each pulling
// the image called image.
func measureServers(c config, starts []serveStart, image string) (serveResult, error) {
	res := serveResult{}
	for _, s := range starts {
		res.rows = append(res.rows, serveRow{name: s.name})
	}
	for range servingRuns(c) {
		for i, s := range starts {
			sample, n, err := serveRun(s.start, image)
			if err != nil {
				return res, fmt.Errorf("%s: %w", s.name, err)
			}
			res.bytes = n
			res.rows[i].samples = append(res.rows[i].samples, sample)
		}
	}
	return res, nil
}

// servingRuns is the runs of each row that serves: at least serveRuns,
// but once for -smoke.
func servingRuns(c config) int {
	if c.smoke {
		return c.runs
	}
	return max(c.runs, serveRuns)
}

// serveRun starts a server, pulls the image called name once, then
// serveConcurrency times at once, reads the server's peak RSS and stops it.
func serveRun(start func() (*serveServer, error), name string) (serveSample, int64, error) {
	var s serveSample
	begin := time.Now()
	srv, err := start()
	if err != nil {
		return s, 0, err
	}
	defer srv.stop()
	s.ready = time.Since(begin)
	ref := manifestURL(srv.host, name)
	n, err := servePull(ref, true)
	if err != nil {
		return s, 0, fmt.Errorf("first pull: %w", err)
	}
	s.firstPull = time.Since(begin)
	cpuBefore, err := processCPU(srv.cmd.Process.Pid)
	if err != nil {
		return s, 0, err
	}
	begin = time.Now()
	errs := make([]error, serveConcurrency)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = servePull(ref, false) })
	}
	wg.Wait()
	s.concurrent = time.Since(begin)
	if err := errors.Join(errs...); err != nil {
		return s, 0, fmt.Errorf("concurrent pulls: %w", err)
	}
	cpuAfter, err := processCPU(srv.cmd.Process.Pid)
	if err != nil {
		return s, 0, err
	}
	s.cpu = cpuAfter - cpuBefore
	if s.rss, err = peakRSS(srv.cmd.Process.Pid); err != nil {
		return s, 0, err
	}
	if srv.store != "" {
		s.disk = dirSize(srv.store)
	}
	return s, n, nil
}

// manifestURL is the URL of the manifest of the image called name on the
// registry at host.
func manifestURL(host, name string) string {
	return "http://" + host + "/v2/" + strings.Replace(name, ":", "/manifests/", 1)
}

// servePull fetches the manifest at ref and every blob it lists, as a client
// pulling the image does, and returns the bytes received. With verify, each
// blob is checked against its digest as it arrives.
func servePull(ref string, verify bool) (int64, error) {
	manifest, err := serveGet(ref, verify, "")
	if err != nil {
		return 0, err
	}
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return 0, fmt.Errorf("%s: %w", ref, err)
	}
	blobs := []string{m.Config.Digest}
	for _, l := range m.Layers {
		blobs = append(blobs, l.Digest)
	}
	n := int64(len(manifest))
	base := ref[:strings.LastIndex(ref, "/manifests/")]
	for _, d := range blobs {
		size, err := serveFetch(base+"/blobs/"+d, verify, d)
		if err != nil {
			return 0, err
		}
		n += size
	}
	return n, nil
}

// serveGet is the body of a manifest.
func serveGet(url string, verify bool, want string) ([]byte, error) {
	var buf bytes.Buffer
	_, err := serveCopy(url, &buf, verify, want)
	return buf.Bytes(), err
}

// serveFetch reads a blob to the end and discards it.
func serveFetch(url string, verify bool, want string) (int64, error) {
	return serveCopy(url, io.Discard, verify, want)
}

// serveCopy GETs url into w; with verify and want, the body must have digest want.
func serveCopy(url string, w io.Writer, verify bool, want string) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	if verify {
		w = io.MultiWriter(w, h)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", url, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); verify && want != "" && got != want {
		return n, fmt.Errorf("GET %s: got digest %s", url, got)
	}
	return n, nil
}

// serveStartOcitar starts ocitar serve with args, its flags and archives
// (files or URLs), and waits for its ready line; ocitar is the binary and
// its global flags.
func serveStartOcitar(ocitar []string, args ...string) (*serveServer, error) {
	args = slices.Concat(ocitar[1:], []string{"serve", "--quiet", "--addr", "127.0.0.1:0"}, args)
	cmd := exec.Command(ocitar[0], args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	srv, err := serveLaunch(cmd)
	if err != nil {
		return nil, err
	}
	const ready = "ocitar serve: serving on http://"
	lines := bufio.NewScanner(stderr)
	var said []string
	for lines.Scan() {
		if host, ok := strings.CutPrefix(lines.Text(), ready); ok {
			srv.host = host
			go io.Copy(io.Discard, stderr)
			return srv, nil
		}
		said = append(said, lines.Text())
	}
	srv.stop()
	return nil, fmt.Errorf("%s exited without its ready line: %s", strings.Join(cmd.Args, " "), strings.Join(said, "; "))
}

// serveStartRegistry starts docker-registry on a free port with its
// configuration and storage in a new directory of the work dir, removed when
// it stops, waits for /v2/ and pushes the image of archive into it with
// ocitar copy.
func serveStartRegistry(c config, archive string) (*serveServer, error) {
	dir := filepath.Join(c.work, "registry")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	host, err := freeAddr()
	if err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "config.yml")
	store := filepath.Join(dir, "data")
	yaml := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", store, host)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	srv, err := serveLaunch(exec.Command("docker-registry", "serve", config))
	if err != nil {
		return nil, err
	}
	srv.host, srv.store, srv.dir = host, store, dir
	if err := srv.waitHTTP(http.DefaultClient, "http://"+host+"/v2/"); err != nil {
		srv.stop()
		return nil, err
	}
	push := exec.Command(c.ocitar, "--insecure-policy", "copy", "-q", "--preserve-digests", "--dest-tls-verify=false",
		"oci-tar:"+archive, "docker://"+host+"/"+largeName)
	if out, err := push.CombinedOutput(); err != nil {
		srv.stop()
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(push.Args, " "), err, out)
	}
	return srv, nil
}

// serveLaunch starts cmd in a process group of its own.
func serveLaunch(cmd *exec.Cmd) (*serveServer, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &serveServer{cmd: cmd, exited: make(chan struct{})}
	go func() {
		srv.waitErr = cmd.Wait()
		close(srv.exited)
	}()
	return srv, nil
}

// waitHTTP polls url with client until it answers 200: 200 attempts 25 ms apart.
func (s *serveServer) waitHTTP(client *http.Client, url string) error {
	for range 200 {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited: %v", strings.Join(s.cmd.Args, " "), s.waitErr)
		case <-time.After(25 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer on %s within 5 s", strings.Join(s.cmd.Args, " "), url)
}

// stop ends the server by its PID: SIGTERM, then SIGKILL after 10 s; then
// it removes its directory.
func (s *serveServer) stop() { s.stopWithin(10 * time.Second) }

// stopWithin sends the server SIGTERM, waits for it to exit, with SIGKILL
// after grace, and removes its directory. It returns the exit's error: nil
// only for an exit with status 0. Once the server has exited, it waits for
// nothing.
func (s *serveServer) stopWithin(grace time.Duration) error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(grace):
		s.cmd.Process.Kill()
		<-s.exited
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	if s.waitErr != nil {
		return fmt.Errorf("%s: %w", strings.Join(s.cmd.Args, " "), s.waitErr)
	}
	return nil
}

// freeAddr is 127.0.0.1 with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// peakRSS is VmHWM of process pid, in bytes.
func peakRSS(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// processCPU is the user and system time process pid has used, from
// /proc/PID/stat, in clock ticks of 10 ms (Linux's USER_HZ).
func processCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses; utime and stime are the 12th and 13th.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, stat)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// serveStats are the medians of a row's runs and the largest RSS and disk of any.
type serveStats struct {
	ready, first, concurrent, cpu time.Duration
	firstLo, firstHi              time.Duration
	concurrentLo, concurrentHi    time.Duration
	rss, disk                     int64
}

func (r serveRow) stats() serveStats {
	var st serveStats
	var ready, first, concurrent, cpu []time.Duration
	for _, s := range r.samples {
		ready, first, concurrent, cpu = append(ready, s.ready), append(first, s.firstPull), append(concurrent, s.concurrent), append(cpu, s.cpu)
		st.rss, st.disk = max(st.rss, s.rss), max(st.disk, s.disk)
	}
	st.ready, st.first, st.concurrent, st.cpu = median(ready), median(first), median(concurrent), median(cpu)
	st.firstLo, st.firstHi = spread(first)
	st.concurrentLo, st.concurrentHi = spread(concurrent)
	return st
}

// throughput is the MiB/s of serveConcurrency pulls of n bytes in d.
func throughput(n int64, d time.Duration) float64 {
	return float64(n*serveConcurrency) / (1 << 20) / d.Seconds()
}

// writeServe writes the serve rows of the report.
func writeServe(b *strings.Builder, r serveResult) {
	fmt.Fprintf(b, "### %s\n\n", serveTitle)
	fmt.Fprintf(b, "The large OCI tar (%.0f MiB per pull: manifest, config and layers). Start to first pull: from starting the server to the end of one complete pull, each blob checked against its digest; for docker-registry this includes pushing the image into it (`ocitar copy --preserve-digests oci-tar:X docker://...`). Then %d clients pull every blob at once. Server CPU: its user+system time during the concurrent pulls (the clients run on the same cores). RSS: the server's VmHWM at the end. Disk: what the server stored beside X.\n\n",
		float64(r.bytes)/(1<<20), serveConcurrency)
	b.WriteString("| server | start to first pull ms (median) | spread ms | 8 concurrent pulls MiB/s (median) | server CPU ms during them | peak RSS MiB | disk MiB |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.rows {
		st := row.stats()
		fmt.Fprintf(b, "| `%s` | %d | %d-%d | %.0f | %d | %.1f | %s |\n", row.name, st.first.Milliseconds(), st.firstLo.Milliseconds(), st.firstHi.Milliseconds(),
			throughput(r.bytes, st.concurrent), st.cpu.Milliseconds(), float64(st.rss)/(1<<20), mib(st.disk))
	}
	b.WriteString("\n")
}

// serveTargets checks the serve rows against the targets of issue 14.
func serveTargets(r serveResult) []target {
	ours, theirs := r.rows[0].stats(), r.rows[1].stats()
	first := ratio(theirs.first, ours.first)
	rate := ratio(theirs.concurrent, ours.concurrent)
	mibRSS := float64(ours.rss) / (1 << 20)
	return []target{
		{"serve: first completed pull at least 2x sooner than docker-registry's push then pull", fmt.Sprintf("%.2fx", first), first >= 2},
		{"serve: 8 concurrent pulls at least docker-registry's throughput", fmt.Sprintf("%.2fx", rate), rate >= 1},
		{"serve: peak RSS under 100 MiB", fmt.Sprintf("%.1f MiB", mibRSS), mibRSS < 100},
	}
}
