package main

import (
	"fmt"
	"strings"
	"time"
)

// remoteWarmShare is issue 20's target: a warm instance's throughput at
// least this share of the local file's.
const remoteWarmShare = 0.90

// remoteStats are the medians of a row's runs and the largest of the rest.
type remoteStats struct {
	ready, pull, first, concurrent time.Duration // pull: the first pull alone, after the ready line; first: from the start to its end
	cpu                            time.Duration // the server's, during the concurrent pulls
	readyLo, readyHi               time.Duration
	rss, cache, downloaded         int64
	nginx                          nginxUse
}

func (r *remoteRow) stats() remoteStats {
	var st remoteStats
	var ready, pull, first, concurrent, cpu []time.Duration
	for _, s := range r.samples {
		ready, pull = append(ready, s.serve.ready), append(pull, s.serve.firstPull-s.serve.ready)
		first, concurrent, cpu = append(first, s.serve.firstPull), append(concurrent, s.serve.concurrent), append(cpu, s.serve.cpu)
		st.rss, st.cache, st.downloaded = max(st.rss, s.serve.rss), max(st.cache, s.cache), max(st.downloaded, s.downloaded)
		st.nginx.requests, st.nginx.bytes = max(st.nginx.requests, s.nginx.requests), max(st.nginx.bytes, s.nginx.bytes)
	}
	st.ready, st.pull, st.first, st.concurrent, st.cpu = median(ready), median(pull), median(first), median(concurrent), median(cpu)
	st.readyLo, st.readyHi = spread(ready)
	return st
}

// row is the row called name.
func (r remoteResult) row(name string) remoteStats {
	for _, row := range r.rows {
		if row.name == name {
			return row.stats()
		}
	}
	panic("no remote row " + name) // the rows and the report disagree
}

// writeRemote writes the remote rows of the report.
func writeRemote(b *strings.Builder, r remoteResult) {
	fmt.Fprintf(b, "### %s\n\n", remoteTitle)
	fmt.Fprintf(b, "The main OCI tar (%.0f MiB; %.0f MiB per pull) on nginx (%s, on 127.0.0.1 over HTTPS with a self-signed certificate, which ocitar trusts through --cert-dir and curl through --cacert). "+
		"Each row starts a server: `ocitar serve` of the local file; of the URL, cold (--cache-dir empty) and warm (--cache-dir as the cold row just left it, every blob in it after one pull); "+
		"and today's way, `curl -fsS -o` of the whole archive into the work dir (no fsync), then `ocitar serve` of that file. "+
		"Serving on: from the start (of curl, for today's way) to ocitar's ready line; the first pull alone, after that line, each blob checked against its digest; start to first pull: both; then %d clients pulling every blob at once, and the server's user+system CPU time meanwhile (the clients run on the same cores). "+
		"Peak RSS: the server's VmHWM after the pulls. --cache-dir and the download are directories of the work disk, their files summed every 10 ms. nginx: requests and body bytes its access log shows for the row's run. %d runs, each row in turn; medians, and the largest of the rest.\n\n",
		float64(r.size)/(1<<20), float64(r.bytes)/(1<<20), nginx, serveConcurrency, len(r.rows[0].samples))
	b.WriteString("| row | serving on ms (median) | spread ms | first pull ms | start to first pull ms | vs local | vs download then serve | 8 concurrent pulls MiB/s | vs local | server CPU ms during them | peak RSS MiB | peak --cache-dir MiB | downloaded MiB | nginx requests | MiB from nginx |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	local, download := r.row(remoteLocal), r.row(remoteDownload)
	for _, row := range r.rows {
		st := row.stats()
		fmt.Fprintf(b, "| `%s` | %d | %d-%d | %d | %d | %.2fx | %.2fx | %.0f | %.2fx | %d | %.1f | %s | %s | %d | %s |\n",
			row.name, st.ready.Milliseconds(), st.readyLo.Milliseconds(), st.readyHi.Milliseconds(), st.pull.Milliseconds(), st.first.Milliseconds(),
			ratio(st.first, local.first), ratio(st.first, download.first), throughput(r.bytes, st.concurrent), ratio(local.concurrent, st.concurrent), st.cpu.Milliseconds(),
			float64(st.rss)/(1<<20), mib(st.cache), mib(st.downloaded), st.nginx.requests, mib(st.nginx.bytes))
	}
	b.WriteString("\n")
}

// remoteTargets checks the remote rows against the target of issue 20.
func remoteTargets(r remoteResult) []target {
	share := ratio(r.row(remoteLocal).concurrent, r.row(remoteWarm).concurrent)
	return []target{{
		fmt.Sprintf("remote: a warm instance's 8-pull throughput within %.0f%% of the local file's", 100*(1-remoteWarmShare)),
		fmt.Sprintf("%.2fx", share), share >= remoteWarmShare,
	}}
}
