package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// mirrorPullLimit is issue 23's target: a pull through the recording mirror
// at most this many times as long as a direct pull from docker-registry.
const mirrorPullLimit = 1.3

// pullStats are the medians of a pull's runs, and the spread of their wall time.
type pullStats struct{ wall, lo, hi, cpu time.Duration }

func pullStatsOf(samples []pullSample) pullStats {
	var walls, cpus []time.Duration
	for _, s := range samples {
		walls, cpus = append(walls, s.wall), append(cpus, s.cpu)
	}
	st := pullStats{wall: median(walls), cpu: median(cpus)}
	st.lo, st.hi = spread(walls)
	return st
}

// mirrorStats are the medians of the runs, with the spread of the pulls and
// of the snapshot, and the largest RSS and disk of any run.
type mirrorStats struct {
	direct, cold, warm     pullStats
	ready, snapshot, cpu   time.Duration
	snapshotLo, snapshotHi time.Duration
	rss, disk, recorded    int64
}

func (r mirrorResult) stats() mirrorStats {
	var st mirrorStats
	var direct, cold, warm []pullSample
	var ready, snapshot, cpu []time.Duration
	for _, s := range r.samples {
		direct, cold, warm = append(direct, s.direct), append(cold, s.cold), append(warm, s.warm)
		ready, snapshot, cpu = append(ready, s.ready), append(snapshot, s.snapshot), append(cpu, s.cpu)
		st.rss, st.disk, st.recorded = max(st.rss, s.rss), max(st.disk, s.disk), max(st.recorded, s.recorded)
	}
	st.direct, st.cold, st.warm = pullStatsOf(direct), pullStatsOf(cold), pullStatsOf(warm)
	st.ready, st.snapshot, st.cpu = median(ready), median(snapshot), median(cpu)
	st.snapshotLo, st.snapshotHi = spread(snapshot)
	return st
}

// coldRatios are the cold pull over the direct pull of each run.
func (r mirrorResult) coldRatios() []string {
	var rs []string
	for _, s := range r.samples {
		rs = append(rs, fmt.Sprintf("%.2fx", ratio(s.cold.wall, s.direct.wall)))
	}
	return rs
}

// writeMirror writes the recording mirror rows of the report.
func writeMirror(b *strings.Builder, r mirrorResult) {
	st := r.stats()
	fmt.Fprintf(b, "### %s\n\n", mirrorTitle)
	fmt.Fprintf(b, "docker-registry holds the main image (pushed once with `ocitar copy --preserve-digests`; %.0f MiB per pull: manifest, config and layers). "+
		"Each run, in turn: a pull straight from docker-registry; then a new `ocitar serve --upstream http://REGISTRY --record OUT` in an empty directory (OUT, the blobs it keeps beside it and its --cache-dir), "+
		"a cold pull through it (every blob fetched from docker-registry as the client reads it), a warm pull through it, and SIGTERM, timed until it exits with its final snapshot written. "+
		"Every pull is the serve rows' client: the manifest, then each blob one after the other, checked against its digest. "+
		"The lock list beside OUT must name the image with docker-registry's manifest digest. "+
		"CPU of a pull: the user+system time of the client (the harness) and of the servers (docker-registry, and the mirror) during it, from rusage and /proc/PID/stat; cores busy: that over the pull's wall time, of %d. "+
		"The mirror's CPU and peak RSS: its rusage over its whole life, snapshot included. Disk: the mirror's directory, summed every 10 ms. %d runs; medians, and spreads.\n\n",
		mibf(r.bytes), runtime.NumCPU(), len(r.samples))
	b.WriteString("| pull | ms (median) | spread ms | vs direct | CPU ms of client and servers | cores busy |\n|---|---:|---:|---:|---:|---:|\n")
	pulls := []struct {
		name string
		st   pullStats
	}{
		{"from docker-registry, direct", st.direct},
		{"through the recording mirror, cold", st.cold},
		{"through the recording mirror, warm", st.warm},
	}
	for _, p := range pulls {
		fmt.Fprintf(b, "| %s | %d | %d-%d | %.2fx | %d | %.2f |\n", p.name, p.st.wall.Milliseconds(), p.st.lo.Milliseconds(), p.st.hi.Milliseconds(),
			ratio(p.st.wall, st.direct.wall), p.st.cpu.Milliseconds(), ratio(p.st.cpu, p.st.wall))
	}
	floor := st.cold.cpu / time.Duration(runtime.NumCPU())
	fmt.Fprintf(b, "\nCold over direct in each run: %s. The cold pull's CPU spread over the %d cores alone takes %d ms, %.2fx the direct pull.\n\n",
		strings.Join(r.coldRatios(), ", "), runtime.NumCPU(), floor.Milliseconds(), ratio(floor, st.direct.wall))
	b.WriteString("| mirror | serving on ms | final snapshot ms (median) | spread ms | CPU ms | peak RSS MiB | peak disk MiB | OUT MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| `ocitar serve --upstream URL --record OUT` | %d | %d | %d-%d | %d | %.1f | %s | %s |\n\n",
		st.ready.Milliseconds(), st.snapshot.Milliseconds(), st.snapshotLo.Milliseconds(), st.snapshotHi.Milliseconds(),
		st.cpu.Milliseconds(), mibf(st.rss), mib(st.disk), mib(st.recorded))
}

// mirrorTargets checks the recording mirror rows against the target of issue 23.
func mirrorTargets(r mirrorResult) []target {
	st := r.stats()
	cold := ratio(st.cold.wall, st.direct.wall)
	return []target{{
		fmt.Sprintf("recording mirror: a pull through it within %.1fx of a direct pull from docker-registry", mirrorPullLimit),
		fmt.Sprintf("%d ms against %d ms: %.2fx", st.cold.wall.Milliseconds(), st.direct.wall.Milliseconds(), cold), cold <= mirrorPullLimit,
	}}
}
