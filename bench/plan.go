package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// tmpDirArg in a command line stands for the run's private TMPDIR.
const tmpDirArg = "<TMPDIR>"

// command is one row of a group.
type command struct {
	name  string
	argv  []string
	env   []string
	bytes int64 // input bytes, for throughput
	// output is a file the command writes, whose size each run records
	// before the output directory is emptied; "" for none.
	output string
}

// group is commands measured side by side: every run runs each in turn.
type group struct {
	title string
	base  string // the command ratios are taken against; "" for none
	runs  int    // 0 is the harness's -runs
	cmds  []command
	// freshFS has each run write into a new filesystem, where one can be
	// mounted (outDir).
	freshFS bool
}

// groups is everything the harness measures, in order.
func groups(c config, co corpus) []group {
	out := filepath.Join(c.work, "out")
	oc := func(args ...string) []string {
		return append([]string{c.ocitar, "--insecure-policy", "--tmpdir", tmpDirArg}, args...)
	}
	cp := func(src string) []string { return []string{"cp", src, out + "/"} }
	cpSync := func(src string) []string {
		return []string{"sh", "-c", `cp "$1" "$2/" && sync "$2/$(basename "$1")"`, "sh", src, out}
	}
	read := func(title string, v variants) group {
		return group{title: title, base: "cp X D/", cmds: []command{
			{name: "ocitar copy oci-tar:X dir:D", argv: oc("copy", "-q", "oci-tar:"+v.oci, "dir:"+out+"/d")},
			{name: "ocitar copy oci-archive:X dir:D", argv: oc("copy", "-q", "oci-archive:"+v.oci, "dir:"+out+"/d")},
			{name: "ocitar copy docker-archive:X dir:D", argv: oc("copy", "-q", "docker-archive:"+v.docker, "dir:"+out+"/d")},
			{name: "cp X D/", argv: cp(v.oci)},
			{name: "cp X D/ && sync", argv: cpSync(v.oci)},
		}}
	}
	y := out + "/y.tar"
	convert := func(flags ...string) []command {
		var cmds []command
		for _, dest := range []string{"oci-tar", "oci-archive"} {
			args := append(append([]string{"copy", "-q"}, flags...), "docker-archive:"+co.large.docker, dest+":"+y)
			cmds = append(cmds, command{name: fmt.Sprintf("ocitar copy %sdocker-archive:X %s:Y", join(flags), dest), argv: oc(args...)})
		}
		return cmds
	}
	openLarge := "ocitar inspect oci-archive:LARGE"
	openMany := "ocitar inspect oci-archive:MANY:" + manyName
	gs := []group{
		read("read, uncompressed layers", co.large),
		read("read, gzip layers", co.largeGzip),
		{title: "write, uncompressed layers", base: "cp X Y", cmds: []command{
			{name: "ocitar copy dir:D oci-tar:Y", argv: oc("copy", "-q", "dir:"+co.largeDir, "oci-tar:"+y)},
			{name: "ocitar copy dir:D oci-archive:Y", argv: oc("copy", "-q", "dir:"+co.largeDir, "oci-archive:"+y)},
			{name: "ocitar copy dir:D docker-archive:Y", argv: oc("copy", "-q", "dir:"+co.largeDir, "docker-archive:"+y)},
			{name: "cp X Y", argv: cp(co.large.oci)},
			{name: "cp X Y && sync", argv: cpSync(co.large.oci)},
		}},
		{title: "convert docker-save -> OCI and back", base: "cp X Y", cmds: append(append(append(convert(), convert("--dest-compress-format", "gzip")...), convert("--dest-compress-format", "zstd")...),
			command{name: "ocitar copy oci-tar:X docker-archive:Y", argv: oc("copy", "-q", "oci-tar:"+co.large.oci, "docker-archive:"+y)},
			command{name: "ocitar copy oci-archive:X docker-archive:Y", argv: oc("copy", "-q", "oci-archive:"+co.large.oci, "docker-archive:"+y)},
			command{name: "cp X Y", argv: cp(co.large.docker)},
			command{name: "cp X Y && sync", argv: cpSync(co.large.docker)},
		)},
		{title: "open the large archive", base: openLarge, cmds: []command{
			{name: "ocitar inspect oci-tar:LARGE", argv: oc("inspect", "oci-tar:"+co.large.oci)},
			{name: "ocitar ls LARGE", argv: oc("ls", co.large.oci)},
			{name: openLarge, argv: oc("inspect", "oci-archive:"+co.large.oci)},
		}},
		{title: fmt.Sprintf("open the archive of %d images", c.many), base: openMany, cmds: []command{
			{name: "ocitar inspect oci-tar:MANY:" + manyName, argv: oc("inspect", "oci-tar:"+co.many+":"+manyName)},
			{name: "ocitar ls MANY", argv: oc("ls", co.many)},
			{name: openMany, argv: oc("inspect", "oci-archive:"+co.many+":"+manyName)},
		}},
	}
	var mem []command
	for _, m := range co.mem {
		mib := m.size >> 20
		mem = append(mem,
			command{name: fmt.Sprintf("%d MiB: ocitar copy oci-tar:X dir:D", mib), argv: oc("copy", "-q", "oci-tar:"+m.oci, "dir:"+out+"/d"), bytes: m.size},
			command{name: fmt.Sprintf("%d MiB: ocitar copy dir:D oci-tar:Y", mib), argv: oc("copy", "-q", "dir:"+m.dir, "oci-tar:"+y), bytes: m.size},
		)
	}
	gs = append(gs, group{title: "memory", runs: 1, cmds: mem})
	var scale []command
	for _, format := range []string{"gzip", "zstd"} {
		for _, procs := range []string{"1", "2"} {
			scale = append(scale, command{
				name:  fmt.Sprintf("GOMAXPROCS=%s ocitar copy --dest-compress-format %s dir:D oci-tar:Y", procs, format),
				argv:  oc("copy", "-q", "--dest-compress-format", format, "dir:"+co.scaleDir, "oci-tar:"+y),
				env:   []string{"GOMAXPROCS=" + procs},
				bytes: c.scaleSize,
			})
		}
	}
	gs = append(gs, group{title: "recompression on one core and two", cmds: scale})
	return append(gs, unpackGroups(c, co.unpack, co.unpackLarge)...)
}

func join(flags []string) string {
	if len(flags) == 0 {
		return ""
	}
	return strings.Join(flags, " ") + " "
}

// stats summarizes the runs of one command.
type stats struct {
	command
	walls       []time.Duration
	wall        time.Duration // median
	cpu         time.Duration // median
	rss, tmpMax int64         // largest of any run
	outBytes    int64         // of command.output, the largest of any run
}

type groupResult struct {
	group
	rows []*stats
}

func (g groupResult) row(name string) *stats {
	for _, r := range g.rows {
		if r.name == name {
			return r
		}
	}
	return nil
}

// host is what the machine lets the harness do for a run.
type host struct {
	work    string
	tmpfs   bool // a private tmpfs as each run's TMPDIR
	freshFS bool // a new filesystem as the output of a group with group.freshFS
}

// measureGroup runs every command of g in turn, runs times, each with an
// empty output directory and a private TMPDIR.
func measureGroup(g group, runs int, h host) (groupResult, error) {
	if g.runs > 0 {
		runs = g.runs
	}
	res := groupResult{group: g}
	cpus := make([][]time.Duration, len(g.cmds))
	for _, c := range g.cmds {
		res.rows = append(res.rows, &stats{command: c})
	}
	for range runs {
		for i, c := range g.cmds {
			s, err := runOnce(c, h, g.freshFS && h.freshFS)
			if err != nil {
				return res, err
			}
			r := res.rows[i]
			r.walls = append(r.walls, s.wall)
			cpus[i] = append(cpus[i], s.cpu)
			r.rss, r.tmpMax, r.outBytes = max(r.rss, s.rss), max(r.tmpMax, s.peaks[0]), max(r.outBytes, s.outBytes)
		}
	}
	for i, r := range res.rows {
		r.wall, r.cpu = median(r.walls), median(cpus[i])
	}
	return res, nil
}

// runOnce runs c once, into an empty output directory (a new filesystem if
// fresh is set) and with a private TMPDIR, after a sync: no run pays for
// what the one before it left dirty.
func runOnce(c command, h host, fresh bool) (sample, error) {
	out, err := newOutDir(h.work, fresh)
	if err != nil {
		return sample{}, err
	}
	tmp, err := newTmpDir(h.work, h.tmpfs)
	if err != nil {
		out.remove()
		return sample{}, err
	}
	argv := slices.Clone(c.argv)
	if i := slices.Index(argv, tmpDirArg); i >= 0 {
		argv[i] = tmp.path
	}
	syscall.Sync()
	s, err := run(argv, c.env, tmp)
	if err == nil && c.output != "" {
		s.outBytes, err = fileSize(c.output)
	}
	if rerr := tmp.remove(); err == nil {
		err = rerr
	}
	if rerr := out.remove(); err == nil {
		err = rerr
	}
	return s, err
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func spread(ds []time.Duration) (time.Duration, time.Duration) {
	lo, hi := ds[0], ds[0]
	for _, d := range ds {
		lo, hi = min(lo, d), max(hi, d)
	}
	return lo, hi
}
