// Command bench measures ocitar side by side with oci-archive:, docker-archive:
// and cp, ocitar serve with docker-registry, compressed archives read in
// place with the ocitar that spooled them, an archive on nginx served in
// place with the local file and with downloading it first, and a delta
// archive written and served with its base beside the full archive, and a
// pull through a recording mirror beside one from docker-registry, on a
// generated corpus, and writes the Markdown report RESULTS.md:
//
//	go run ./bench [-size MiB] [-runs N] [-out FILE] [-work DIR]
//	go run ./bench -smoke -out out/bench-smoke/RESULTS.md
//
// make bench and make bench-smoke run it. See bench/NOTES.md for what the
// report's sections measure and for the before/after of the speed work.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// config is what one run of the harness measures.
type config struct {
	ocitar    string
	ocitarOld string // the ocitar of today's spool; "" builds it from spoolCommit
	work      string
	out       string
	size      int64   // of the main image
	scaleSize int64   // of the image recompressed with one core and two
	memSizes  []int64 // of the images of the memory series
	many      int     // images of the many-image archive
	runs      int
	benchtime string // for go test -bench; "" is go's default
	smoke     bool
	only      string // measures only the groups whose title contains it; no targets, no Go benchmarks
}

func main() {
	c := config{many: 200}
	var memSizes string
	var size, scaleSize int64
	flag.StringVar(&c.ocitar, "ocitar", "bin/ocitar", "the ocitar binary to measure")
	flag.StringVar(&c.ocitarOld, "ocitar-old", "", "the ocitar of today's spool, which the compressed rows measure beside -ocitar (default: built once from commit "+spoolCommit+" into the work dir)")
	flag.StringVar(&c.work, "work", "bench/work", "`DIR` for the corpus and the outputs")
	flag.StringVar(&c.out, "out", "bench/RESULTS.md", "`FILE` to write the report to")
	flag.Int64Var(&size, "size", 1024, "`MiB` of layer data in the main image")
	flag.Int64Var(&scaleSize, "scale-size", 256, "`MiB` of the image recompressed with GOMAXPROCS=1 and 2")
	flag.StringVar(&memSizes, "mem-sizes", "128,1024,4096", "`MiB` of each image of the memory series, comma-separated; the largest also gets compressed rows, for peak RSS")
	flag.IntVar(&c.runs, "runs", 3, "runs of each command")
	flag.BoolVar(&c.smoke, "smoke", false, "a tiny corpus, one run: checks that every command works")
	flag.StringVar(&c.only, "only", "", "measure only the groups whose title contains `TEXT` (skips the Go benchmarks, and the targets but the compressed, remote, delta and mirror rows')")
	flag.Parse()
	if c.smoke {
		size, scaleSize, memSizes, c.runs, c.benchtime = 16, 16, "8,32", 1, "1x"
	}
	c.size, c.scaleSize = size<<20, scaleSize<<20
	for _, s := range strings.Split(memSizes, ",") {
		mib, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fail(fmt.Errorf("-mem-sizes: %q is not a number of MiB", s))
		}
		c.memSizes = append(c.memSizes, mib<<20)
	}
	if err := benchmark(c); err != nil {
		fail(err)
	}
}

// deltaOnly is whether -only selects the delta group alone: its text holds
// "delta", which no other group's title does. That group has a corpus of
// its own, so the shared one is left unprepared.
func (c config) deltaOnly() bool { return strings.Contains(c.only, "delta") }

// mirrorOnly is whether -only selects the recording mirror group alone: its
// text holds "mirror", which no other group's title does. That group pulls
// the main image alone, so the rest of the shared corpus is left unprepared.
func (c config) mirrorOnly() bool { return strings.Contains(c.only, "mirror") }

func prepareAndMeasureDelta(c config, h host) (deltaResult, error) {
	co, err := prepareDelta(c)
	if err != nil {
		return deltaResult{}, fmt.Errorf("preparing the corpus: %w", err)
	}
	syscall.Sync()
	return measureDelta(c, co, h)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// benchmark prepares the corpus, measures every group and writes the report.
func benchmark(c config) error {
	var err error
	if c.ocitar, err = filepath.Abs(c.ocitar); err != nil {
		return err
	}
	if c.work, err = filepath.Abs(c.work); err != nil {
		return err
	}
	if err := os.MkdirAll(c.work, 0o755); err != nil {
		return err
	}
	var corpus corpus
	if !c.deltaOnly() {
		if corpus, err = prepare(c); err != nil {
			return fmt.Errorf("preparing the corpus: %w", err)
		}
	}
	// A corpus just written is still being flushed to disk; the first
	// commands would pay for it, and cp and fsync most of all.
	syscall.Sync()
	probe, err := newTmpDir(c.work, os.Geteuid() == 0)
	if err != nil {
		return err
	}
	h := host{work: c.work, tmpfs: probe.mounted, freshFS: probeFreshFS(c.work)}
	method := probe.method()
	if err := probe.remove(); err != nil {
		return err
	}
	var results []groupResult
	for _, g := range groups(c, corpus) {
		if !strings.Contains(g.title, c.only) {
			continue
		}
		logf("measuring %s", g.title)
		r, err := measureGroup(g, c.runs, h)
		if err != nil {
			return fmt.Errorf("%s: %w", g.title, err)
		}
		results = append(results, r)
	}
	var served *serveResult
	if strings.Contains(serveTitle, c.only) {
		logf("measuring %s", serveTitle)
		r, err := measureServe(c, corpus)
		if err != nil {
			return fmt.Errorf("%s: %w", serveTitle, err)
		}
		served = &r
	}
	var compressed []compressedResult
	for _, set := range corpus.compressed {
		if !strings.Contains(set.title, c.only) {
			continue
		}
		logf("measuring %s", set.title)
		r, err := measureCompressed(c, set, corpus.spool)
		if err != nil {
			return fmt.Errorf("%s: %w", set.title, err)
		}
		compressed = append(compressed, r)
	}
	var remoted *remoteResult
	if strings.Contains(remoteTitle, c.only) {
		logf("measuring %s", remoteTitle)
		r, err := measureRemote(c, corpus)
		if err != nil {
			return fmt.Errorf("%s: %w", remoteTitle, err)
		}
		remoted = &r
	}
	var delta *deltaResult
	if strings.Contains(deltaTitle, c.only) {
		logf("measuring %s", deltaTitle)
		r, err := prepareAndMeasureDelta(c, h)
		if err != nil {
			return fmt.Errorf("%s: %w", deltaTitle, err)
		}
		delta = &r
	}
	var mirrored *mirrorResult
	if strings.Contains(mirrorTitle, c.only) {
		logf("measuring %s", mirrorTitle)
		r, err := measureMirror(c, corpus)
		if err != nil {
			return fmt.Errorf("%s: %w", mirrorTitle, err)
		}
		mirrored = &r
	}
	var goBench string
	if c.only == "" {
		logf("running the Go benchmarks of %s", strings.Join(goBenchPackages, " and "))
		if goBench, err = runGoBench(c.benchtime); err != nil {
			return err
		}
	}
	report := buildReport(c, corpus, results, served, compressed, remoted, delta, mirrored, goBench, method, freshFSMethod(h.freshFS))
	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(c.out, []byte(report), 0o644); err != nil {
		return err
	}
	logf("wrote %s", c.out)
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
