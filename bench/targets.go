package main

import (
	"fmt"
	"strings"
	"time"
)

// target is one goal of issue 3, 6, 12, 14, 15, 19, 20, 22 or 23 and how the run measured against it.
type target struct {
	name, measured string
	met            bool
}

// targets checks the measured results against the goals of issues 3, 6, 12 and 15.
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
	// copyTargets: ours within 1.5x of cp, and of cp && sync, at least factor
	// times as fast as the oci-archive: row peer, and no temporary space.
	copyTargets := func(label, group, ours, peer, cp string, factor float64) {
		o := find(group, ours)
		atMost(label+" within 1.5x of cp", ratio(o.wall, find(group, cp).wall), 1.5, "x")
		atMost(label+" within 1.5x of cp && sync (it fsyncs)", ratio(o.wall, find(group, cp+" && sync").wall), 1.5, "x")
		atLeast(fmt.Sprintf("%s at least %gx as fast as oci-archive:", label, factor), ratio(find(group, peer).wall, o.wall), factor, "x")
		atMost(label+" uses no temporary space", float64(o.tmpMax), 0, " bytes")
	}
	for _, layers := range []string{"uncompressed", "gzip"} { // 2.2x: issue 12
		copyTargets("read ("+layers+" layers)", "read, "+layers, "ocitar copy oci-tar:X dir:D", "ocitar copy oci-archive:X dir:D", "cp X D/", 2.2)
	}
	copyTargets("write", "write", "ocitar copy dir:D oci-tar:Y", "ocitar copy dir:D oci-archive:Y", "cp X Y", 1.8)
	copyTargets("convert (issue 3)", "convert docker-save", "ocitar copy docker-archive:X oci-tar:Y", "ocitar copy docker-archive:X oci-archive:Y", "cp X Y", 1)
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
	unpackTargets(c, find, atMost)
	for _, format := range []string{"gzip", "zstd"} {
		one := find("recompression", fmt.Sprintf("GOMAXPROCS=1 ocitar copy --dest-compress-format %s dir:D oci-tar:Y", format))
		two := find("recompression", fmt.Sprintf("GOMAXPROCS=2 ocitar copy --dest-compress-format %s dir:D oci-tar:Y", format))
		atLeast("recompression ("+format+") uses both cores: 2-core over 1-core throughput at least 1.7", ratio(one.wall, two.wall), 1.7, "x")
	}
	return ts
}
