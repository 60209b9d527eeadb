package main

import (
	"fmt"
	"strings"
)

// writeDelta writes the delta group of the report: the two saves, then the
// two servers.
func writeDelta(b *strings.Builder, r deltaResult) {
	s := r.spec
	var shared int64
	for _, l := range s.shared {
		shared += l
	}
	fmt.Fprintf(b, "### %s\n\n", deltaTitle)
	fmt.Fprintf(b, "The base: %d images in an OCI tar, %.0f MiB of blobs; each image is %d base layers every image shares (%s MiB), a runtime layer of %s MiB and an app layer of %s MiB of its own. "+
		"The next version: the same %d images, %d of them (every %dth) with a new app layer of %s MiB instead: %d blobs, %.2f MiB, the base lacks (layers, configs and manifests). "+
		"NEXT is the next version as an OCI tar, each image given as `oci-tar:NEXT:NAME`; the flatten writes the images the stack BASE+DELTA shows. Each command writes into an empty directory with a private --tmpdir, %d runs, in turn; archive MiB is the size of what it wrote.\n\n",
		deltaImages, mibf(r.baseBlobs), len(s.shared), mib(shared), mib(s.runtime), mib(s.app),
		deltaImages, deltaUpdated, deltaImages/deltaUpdated, mib(s.newApp), r.newCount, mibf(r.newBlobs), len(r.writes.rows[0].walls))
	b.WriteString("| command | wall ms (median) | spread ms | CPU ms | peak RSS MiB | archive MiB | vs the new blobs |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.writes.rows {
		lo, hi := spread(row.walls)
		fmt.Fprintf(b, "| `%s` | %d | %d-%d | %d | %.1f | %.2f | %.4fx |\n", row.name, row.wall.Milliseconds(), lo.Milliseconds(), hi.Milliseconds(),
			row.cpu.Milliseconds(), mibf(row.rss), mibf(row.outBytes), float64(row.outBytes)/float64(r.newBlobs))
	}
	fmt.Fprintf(b, "\nThen `ocitar serve` of the stack BASE+DELTA beside `ocitar serve` of FLAT, the stack flattened, in turn, %d runs each. "+
		"Each run pulls the updated image %s (%.0f MiB: manifest, config and layers): serving on is the time to the ready line; start to first pull ends with one complete pull, each blob checked against its digest; then %d clients pull every blob at once. "+
		"Server CPU: its user+system time during the concurrent pulls. RSS: its VmHWM at the end.\n\n",
		len(r.serve.rows[0].samples), r.pulled, mibf(r.serve.bytes), serveConcurrency)
	b.WriteString("| server | serving on ms (median) | start to first pull ms (median) | spread ms | vs flat | 8 concurrent pulls MiB/s (median) | spread MiB/s | vs flat | server CPU ms during them | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	flat := r.flatStats()
	for _, row := range r.serve.rows {
		st := row.stats()
		fmt.Fprintf(b, "| `%s` | %d | %d | %d-%d | %.2fx | %.0f | %.0f-%.0f | %.2fx | %d | %.1f |\n", row.name, st.ready.Milliseconds(), st.first.Milliseconds(),
			st.firstLo.Milliseconds(), st.firstHi.Milliseconds(), ratio(st.first, flat.first), throughput(r.serve.bytes, st.concurrent),
			throughput(r.serve.bytes, st.concurrentHi), throughput(r.serve.bytes, st.concurrentLo),
			ratio(flat.concurrent, st.concurrent), st.cpu.Milliseconds(), mibf(st.rss))
	}
	b.WriteString("\n")
}

func mibf(n int64) float64 { return float64(n) / (1 << 20) }

func (r deltaResult) flatStats() serveStats  { return r.serve.rows[1].stats() }
func (r deltaResult) stackStats() serveStats { return r.serve.rows[0].stats() }

// deltaTargets checks the delta group against the targets of issue 22.
func deltaTargets(r deltaResult) []target {
	written := r.writes.row(deltaWrite).outBytes
	size := float64(written) / float64(r.newBlobs)
	stack, flat := r.stackStats(), r.flatStats()
	first := ratio(stack.first, flat.first)
	rate := ratio(flat.concurrent, stack.concurrent)
	return []target{
		{"delta: no larger than the new blobs plus 1%", fmt.Sprintf("%d bytes for %d: %.4fx", written, r.newBlobs, size), size <= 1.01},
		{"delta: serving BASE+DELTA, start to first pull within 10% of serving the flat archive", fmt.Sprintf("%d ms against %d ms: %.2fx", stack.first.Milliseconds(), flat.first.Milliseconds(), first), first <= 1.10},
		{"delta: serving BASE+DELTA, 8 concurrent pulls within 10% of the flat archive's throughput", fmt.Sprintf("%.2fx", rate), rate >= 0.90},
	}
}
