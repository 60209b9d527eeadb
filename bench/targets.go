package main

import (
	"fmt"
	"strings"
	"time"
)

// target is one goal of issue 3 or 6 and how the run measured against it.
type target struct {
	name, measured string
	met            bool
}

// targets checks the measured results against the goals of issues 3 and 6.
func targets(c config, results []groupResult) []target {
	find := func(title, name string) *stats {
		for _, g := range results {
			if strings.HasPrefix(g.title, title) {
				if r := g.row(name); r != nil {
					return r
				}
			}
		}
		panic(fmt.Sprintf("no row %q in %q", name, title)) // the plan and the targets disagree
	}
	var ts []target
	atMost := func(name string, got, limit float64, unit string) {
		ts = append(ts, target{name, fmt.Sprintf("%.2f%s", got, unit), got <= limit})
	}
	atLeast := func(name string, got, limit float64, unit string) {
		ts = append(ts, target{name, fmt.Sprintf("%.2f%s", got, unit), got >= limit})
	}
	for _, layers := range []string{"uncompressed", "gzip"} {
		g := "read, " + layers
		ours := find(g, "ocitar copy oci-tar:X dir:D")
		atMost("read ("+layers+" layers) within 1.5x of cp", ratio(ours.wall, find(g, "cp X D/").wall), 1.5, "x")
		atMost("read ("+layers+" layers) within 1.5x of cp && sync (dir: fsyncs)", ratio(ours.wall, find(g, "cp X D/ && sync").wall), 1.5, "x")
		atLeast("read ("+layers+" layers) 2x faster than oci-archive:", ratio(find(g, "ocitar copy oci-archive:X dir:D").wall, ours.wall), 2, "x")
		atMost("read ("+layers+" layers) uses no temporary space", float64(ours.tmpMax), 0, " bytes")
	}
	w := "write"
	ours := find(w, "ocitar copy dir:D oci-tar:Y")
	atMost("write within 1.5x of cp", ratio(ours.wall, find(w, "cp X Y").wall), 1.5, "x")
	atMost("write within 1.5x of cp && sync (ocitar fsyncs)", ratio(ours.wall, find(w, "cp X Y && sync").wall), 1.5, "x")
	atLeast("write 1.8x faster than oci-archive:", ratio(find(w, "ocitar copy dir:D oci-archive:Y").wall, ours.wall), 1.8, "x")
	atMost("write uses no temporary space", float64(ours.tmpMax), 0, " bytes")
	c3 := "convert docker-save"
	conv := find(c3, "ocitar copy docker-archive:X oci-tar:Y")
	atMost("convert (issue 3): `copy docker-archive:X oci-tar:Y` within 1.5x of cp", ratio(conv.wall, find(c3, "cp X Y").wall), 1.5, "x")
	atMost("convert (issue 3): within 1.5x of cp && sync (ocitar fsyncs)", ratio(conv.wall, find(c3, "cp X Y && sync").wall), 1.5, "x")
	atLeast("convert (issue 3): faster than `copy docker-archive:X oci-archive:Y`", ratio(find(c3, "ocitar copy docker-archive:X oci-archive:Y").wall, conv.wall), 1, "x")
	atMost("convert (issue 3): uses no temporary space", float64(conv.tmpMax), 0, " bytes")
	peer := find("open the large", "ocitar inspect oci-archive:LARGE")
	for _, name := range []string{"ocitar inspect oci-tar:LARGE", "ocitar ls LARGE"} {
		atLeast("open: `"+name+"` 50x faster than inspect oci-archive:", ratio(peer.wall, find("open the large", name).wall), 50, "x")
	}
	many := fmt.Sprintf("open the archive of %d images", c.many)
	for _, name := range []string{"ocitar inspect oci-tar:MANY:" + manyName, "ocitar ls MANY"} {
		atMost(fmt.Sprintf("open: `%s` (%d blobs) under 100 ms", name, 10*c.many), float64(find(many, name).wall)/float64(time.Millisecond), 100, " ms")
	}
	var rss int64
	for _, g := range results {
		if g.title == "memory" {
			for _, r := range g.rows {
				rss = max(rss, r.rss)
			}
		}
	}
	atMost("memory: peak RSS under 100 MiB (largest of the series)", float64(rss)/(1<<20), 100, " MiB")
	for _, format := range []string{"gzip", "zstd"} {
		one := find("recompression", fmt.Sprintf("GOMAXPROCS=1 ocitar copy --dest-compress-format %s dir:D oci-tar:Y", format))
		two := find("recompression", fmt.Sprintf("GOMAXPROCS=2 ocitar copy --dest-compress-format %s dir:D oci-tar:Y", format))
		atLeast("recompression ("+format+") uses both cores: 2-core over 1-core throughput at least 1.7", ratio(one.wall, two.wall), 1.7, "x")
	}
	return ts
}
