package main

import (
	"fmt"
	"strings"
	"time"
)

// mirrorPullLimit is issue 23's target: a pull through the recording mirror
// at most this many times as long as a direct pull from docker-registry.
const mirrorPullLimit = 1.3

// mirrorStats are the medians of the runs, with the spread of the pulls and
// of the snapshot, and the largest RSS and disk of any run.
type mirrorStats struct {
	direct, ready, cold, warm, snapshot, cpu time.Duration
	directLo, directHi                       time.Duration
	coldLo, coldHi, warmLo, warmHi           time.Duration
	snapshotLo, snapshotHi                   time.Duration
	rss, disk, recorded                      int64
}

func (r mirrorResult) stats() mirrorStats {
	var st mirrorStats
	var direct, ready, cold, warm, snapshot, cpu []time.Duration
	for _, s := range r.samples {
		direct, ready, cold = append(direct, s.direct), append(ready, s.ready), append(cold, s.cold)
		warm, snapshot, cpu = append(warm, s.warm), append(snapshot, s.snapshot), append(cpu, s.cpu)
		st.rss, st.disk, st.recorded = max(st.rss, s.rss), max(st.disk, s.disk), max(st.recorded, s.recorded)
	}
	st.direct, st.ready, st.cold, st.warm = median(direct), median(ready), median(cold), median(warm)
	st.snapshot, st.cpu = median(snapshot), median(cpu)
	st.directLo, st.directHi = spread(direct)
	st.coldLo, st.coldHi = spread(cold)
	st.warmLo, st.warmHi = spread(warm)
	st.snapshotLo, st.snapshotHi = spread(snapshot)
	return st
}

// coldRatios are the cold pull over the direct pull of each run.
func (r mirrorResult) coldRatios() []string {
	var rs []string
	for _, s := range r.samples {
		rs = append(rs, fmt.Sprintf("%.2fx", ratio(s.cold, s.direct)))
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
		"The lock list beside OUT must name the image with docker-registry's manifest digest. CPU and peak RSS: the mirror's rusage over its whole life, snapshot included. "+
		"Disk: the mirror's directory, summed every 10 ms. %d runs; medians, and spreads.\n\n",
		mibf(r.bytes), len(r.samples))
	b.WriteString("| pull | ms (median) | spread ms | vs direct |\n|---|---:|---:|---:|\n")
	pulls := []struct {
		name        string
		med, lo, hi time.Duration
	}{
		{"from docker-registry, direct", st.direct, st.directLo, st.directHi},
		{"through the recording mirror, cold", st.cold, st.coldLo, st.coldHi},
		{"through the recording mirror, warm", st.warm, st.warmLo, st.warmHi},
	}
	for _, p := range pulls {
		fmt.Fprintf(b, "| %s | %d | %d-%d | %.2fx |\n", p.name, p.med.Milliseconds(), p.lo.Milliseconds(), p.hi.Milliseconds(), ratio(p.med, st.direct))
	}
	fmt.Fprintf(b, "\nCold over direct in each run: %s.\n\n", strings.Join(r.coldRatios(), ", "))
	b.WriteString("| mirror | serving on ms | final snapshot ms (median) | spread ms | CPU ms | peak RSS MiB | peak disk MiB | OUT MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| `ocitar serve --upstream URL --record OUT` | %d | %d | %d-%d | %d | %.1f | %s | %s |\n\n",
		st.ready.Milliseconds(), st.snapshot.Milliseconds(), st.snapshotLo.Milliseconds(), st.snapshotHi.Milliseconds(),
		st.cpu.Milliseconds(), mibf(st.rss), mib(st.disk), mib(st.recorded))
}

// mirrorTargets checks the recording mirror rows against the target of issue 23.
func mirrorTargets(r mirrorResult) []target {
	st := r.stats()
	cold := ratio(st.cold, st.direct)
	return []target{{
		fmt.Sprintf("recording mirror: a pull through it within %.1fx of a direct pull from docker-registry", mirrorPullLimit),
		fmt.Sprintf("%d ms against %d ms: %.2fx", st.cold.Milliseconds(), st.direct.Milliseconds(), cold), cold <= mirrorPullLimit,
	}}
}
