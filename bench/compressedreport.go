package main

import (
	"fmt"
	"strings"
	"time"
)

// compressedStats are the medians of a row's runs and the largest of the
// rest, of the server and inspect alike.
type compressedStats struct {
	ready, pull, concurrent, inspect time.Duration // pull: the first pull alone, after the ready line
	readyLo, readyHi                 time.Duration
	serveRSS, inspectRSS             int64
	tmp, cache, cacheNew             int64
	cacheChanged                     bool  // a run left --cache-dir other than it found it
	index                            int64 // under --cache-dir's index/
}

func (r *compressedRow) stats() compressedStats {
	var st compressedStats
	var ready, pull, concurrent, inspect []time.Duration
	for _, s := range r.samples {
		ready, pull = append(ready, s.serve.ready), append(pull, s.serve.firstPull-s.serve.ready)
		concurrent, inspect = append(concurrent, s.serve.concurrent), append(inspect, s.inspect.wall)
		st.serveRSS, st.inspectRSS = max(st.serveRSS, s.serve.rss), max(st.inspectRSS, s.inspect.rss)
		for _, u := range []dirUse{s.served, s.seen} {
			st.tmp, st.cache, st.cacheNew = max(st.tmp, u.tmp), max(st.cache, u.cache), max(st.cacheNew, u.cacheNew())
			st.cacheChanged = st.cacheChanged || u.cacheChanged()
		}
		st.index = max(st.index, s.index)
	}
	st.ready, st.pull, st.concurrent, st.inspect = median(ready), median(pull), median(concurrent), median(inspect)
	st.readyLo, st.readyHi = spread(ready)
	return st
}

func (st compressedStats) rss() int64 { return max(st.serveRSS, st.inspectRSS) }

// row is the row of form opened so, or nil.
func (r compressedResult) row(form, open string) *compressedRow {
	for _, row := range r.rows {
		if row.form.name == form && row.open == open {
			return row
		}
	}
	return nil
}

// writeCompressed writes the rows of one set of the report.
func writeCompressed(b *strings.Builder, r compressedResult) {
	fmt.Fprintf(b, "### %s\n\n", r.title)
	fmt.Fprintf(b, "The image as an OCI tar of %.0f MiB (%.0f MiB per pull), and compressed. Each row serves the file with `ocitar serve` (--tmpdir and --cache-dir empty, "+
		"but for a next open, which finds --cache-dir as the first open left it): time to its ready line (serving on); the first pull alone, after that line, each blob checked against its digest; "+
		"then %d clients pulling every blob at once. Then `ocitar inspect oci-tar:FILE`, --cache-dir emptied again but for a next open. "+
		"Peak RSS: the server's VmHWM after the pulls, and inspect's maxrss. --tmpdir and --cache-dir are directories of the work disk, as /var/tmp and ~/.cache are; the sizes of their files are summed every 10 ms while each command runs, the server's and inspect's largest given; "+
		"new in --cache-dir: how far it grew past what it held before the command. "+
		"Today's spool is the ocitar of commit %s (-ocitar-old), which decompressed a compressed archive whole into --tmpdir before reading it; it has no --cache-dir. Both get --max-decompression-ratio %s: the bound holds at every point of a stream, and zstd --long=25 shrinks a text layer of the corpus (a 1 MiB block repeated) about 1500 times. %d runs, each row in turn; medians.\n\n",
		float64(r.size)/(1<<20), float64(r.bytes)/(1<<20), serveConcurrency, spoolCommit, compressedMaxRatio, len(r.rows[0].samples))
	b.WriteString("| form | file MiB | opened | serving on ms (median) | spread ms | vs plain | first pull ms | vs plain | 8 concurrent pulls MiB/s | inspect ms | peak RSS MiB, serve / inspect | peak --tmpdir MiB | peak --cache-dir MiB | new in --cache-dir MiB |\n" +
		"|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	plain := r.row(formPlain, openPlain).stats()
	for _, row := range r.rows {
		st := row.stats()
		fmt.Fprintf(b, "| %s | %.0f | %s | %d | %d-%d | %.2fx | %d | %.2fx | %.0f | %d | %.1f / %.1f | %s | %s | %s |\n",
			row.form.name, float64(row.form.bytes)/(1<<20), row.open, st.ready.Milliseconds(), st.readyLo.Milliseconds(), st.readyHi.Milliseconds(), ratio(st.ready, plain.ready),
			st.pull.Milliseconds(), ratio(st.pull, plain.pull), throughput(r.bytes, st.concurrent), st.inspect.Milliseconds(),
			float64(st.serveRSS)/(1<<20), float64(st.inspectRSS)/(1<<20), mib(st.tmp), mib(st.cache), mib(st.cacheNew))
	}
	b.WriteString("\n")
	for _, row := range r.rows {
		if row.open == openFirst {
			st := row.stats()
			fmt.Fprintf(b, "- %s: the first open leaves %s MiB in --cache-dir, %d bytes of it in index/: %.2f MiB per GiB of tar.\n",
				row.form.name, mib(st.cache), st.index, float64(st.index)/(1<<20)/(float64(r.size)/(1<<30)))
		}
	}
	b.WriteString("\n")
}

// compressedTargets checks the compressed rows against the targets of issue 19.
func compressedTargets(rs []compressedResult) []target {
	var ts []target
	for _, r := range rs {
		ts = append(ts, r.targets()...)
	}
	return ts
}

func (r compressedResult) targets() []target {
	var ts []target
	plain := r.row(formPlain, openPlain).stats()
	for _, f := range r.forms {
		add := func(what, measured string, met bool) {
			ts = append(ts, target{fmt.Sprintf("compressed, %d MiB image, %s: %s", r.size>>20, f.name, what), measured, met})
		}
		stats := func(open string) compressedStats { return r.row(f.name, open).stats() }
		times := func(what string, got, plain time.Duration, limit float64) {
			add(fmt.Sprintf("%s within %gx the plain tar's", what, limit), fmt.Sprintf("%d ms, %.2fx", got.Milliseconds(), ratio(got, plain)), ratio(got, plain) <= limit)
		}
		spooled := func(what string, st compressedStats) {
			if spool := r.row(f.name, openSpool); spool != nil {
				old := spool.stats().ready
				add(what+" no slower than today's spool", fmt.Sprintf("%d ms against %d ms, %.2fx", st.ready.Milliseconds(), old.Milliseconds(), ratio(st.ready, old)), st.ready <= old)
			}
		}
		var rss int64
		for _, row := range r.rows {
			if row.form.name == f.name && row.open != openSpool {
				rss = max(rss, row.stats().rss())
			}
		}
		add("peak RSS under 100 MiB", fmt.Sprintf("%.1f MiB", float64(rss)/(1<<20)), rss < 100<<20)
		if r.rssOnly {
			continue
		}
		switch f.kind {
		case seekable:
			st := stats(openInPlace)
			times("serving on", st.ready, plain.ready, 3)
			add("serving on under 0.3 s", fmt.Sprintf("%d ms", st.ready.Milliseconds()), st.ready < 300*time.Millisecond)
			add("0 bytes under --tmpdir and --cache-dir", fmt.Sprintf("%d bytes", st.tmp+st.cache), st.tmp+st.cache == 0)
			times("the first pull", st.pull, plain.pull, 1.5)
		case foreignGzip:
			first, next := stats(openFirst), stats(openNext)
			tmp := max(first.tmp, next.tmp)
			add("0 bytes under --tmpdir (first and next open)", fmt.Sprintf("%d bytes", tmp), tmp == 0)
			spooled("first open", first)
			times("next open, its index cached,", next.ready, plain.ready, 3)
		case oneFrame:
			first, next := stats(openFirst), stats(openNext)
			spooled("first start", first)
			times("next start", next.ready, plain.ready, 3)
			add("next start writes nothing new to --cache-dir", fmt.Sprintf("%d bytes new, left unchanged: %t", next.cacheNew, !next.cacheChanged), next.cacheNew == 0 && !next.cacheChanged)
		}
	}
	return ts
}
