package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ocitar/ocitar/internal/testimage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The delta group of issue 22: a site's bundle of 20 images sharing their
// base layers, and the next version, 5 of them with a rebuilt app layer.
// `ocitar save --base` writes the delta beside a full `ocitar save` of the
// next version and `ocitar flatten` of the stack base+delta, and
// `ocitar serve` of the stack is measured beside that of the flattened
// archive.

// deltaTitle names the delta group in the report and for -only. No other
// group's title holds "delta" (see config.deltaOnly).
const deltaTitle = "delta archives"

// deltaImages are the images of each version; every deltaImages/deltaUpdated-th
// image is updated in the next.
const (
	deltaImages  = 20
	deltaUpdated = 5
)

// Names of the rows in the report.
const (
	deltaWrite   = "ocitar save --base BASE -o DELTA NEXT..."
	deltaFull    = "ocitar save -o FULL NEXT..."
	deltaFlatten = "ocitar flatten -o FLAT BASE+DELTA"
	deltaStack   = "ocitar serve BASE+DELTA"
	deltaFlat    = "ocitar serve FLAT"
)

// deltaSpec is the sizes of an image's layers, bottom up: the base layers
// every image shares, its own runtime and app layers; and the app layer an
// updated image has instead.
type deltaSpec struct {
	shared               []int64
	runtime, app, newApp int64
}

func deltaSpecOf(c config) deltaSpec {
	if c.smoke {
		return deltaSpec{shared: []int64{1 << 20, 2 << 20, 1 << 20}, runtime: 256 << 10, app: 64 << 10, newApp: 128 << 10}
	}
	return deltaSpec{shared: []int64{64 << 20, 128 << 20, 64 << 20}, runtime: 32 << 20, app: 6 << 20, newApp: 16 << 20}
}

// deltaCorpus is the files of the delta group.
type deltaCorpus struct {
	spec        deltaSpec
	base, next  string // OCI tars of the generator: the bundle the site holds, and the next version
	delta, flat string // ocitar save of next against base, and the stack of both flattened
	names       []string
	pulled      string // the updated image the serve rows pull
	// Bytes of the blobs (layers, configs, manifests) base holds, and of
	// those of the next version that base lacks.
	baseBlobs, newBlobs int64
	newCount            int
}

func deltaName(i int) string { return fmt.Sprintf("example.com/bench/delta/app-%02d:1", i) }

func deltaIsUpdated(i int) bool { return i%(deltaImages/deltaUpdated) == 0 }

// prepareDelta generates both versions, unless an earlier run left them,
// and writes the delta and the flat archive with the ocitar measured,
// unless an earlier run did so with the same binary.
func prepareDelta(c config) (deltaCorpus, error) {
	w := c.work
	co := deltaCorpus{
		spec:  deltaSpecOf(c),
		base:  filepath.Join(w, "delta-base.oci.tar"),
		next:  filepath.Join(w, "delta-next.oci.tar"),
		delta: filepath.Join(w, "delta-next.delta.tar"),
		flat:  filepath.Join(w, "delta-next.flat.tar"),
	}
	for i := range deltaImages {
		co.names = append(co.names, deltaName(i))
	}
	co.pulled = co.names[deltaImages/deltaUpdated]
	err := cached(w, "delta-versions", co.spec, func() error {
		layers := filepath.Join(w, "delta-layers")
		base, next, err := generateDelta(layers, co.spec)
		if err != nil {
			return err
		}
		return firstError(
			func() error { return writeOCI(co.base, false, base...) },
			func() error { return writeOCI(co.next, false, next...) },
			func() error { return os.RemoveAll(layers) },
		)
	})
	if err != nil {
		return co, err
	}
	binary, err := fileSum(c.ocitar)
	if err != nil {
		return co, err
	}
	writes := [][]string{co.saveArgs(co.delta, true), co.flattenArgs(co.flat)}
	err = cached(w, "delta-writes", fmt.Sprintf("%+v, %q, ocitar %s", co.spec, writes, binary), func() error {
		for _, args := range writes {
			cmd := exec.Command(c.ocitar, append([]string{"--insecure-policy"}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
			}
		}
		return nil
	})
	if err != nil {
		return co, err
	}
	return co, co.countNewBlobs()
}

// saveArgs are the arguments of `ocitar save` of the next version into out,
// a delta against base if delta is set.
func (co deltaCorpus) saveArgs(out string, delta bool) []string {
	args := []string{"save", "-q"}
	if delta {
		args = append(args, "--base", co.base)
	}
	args = append(args, "-o", out)
	for _, name := range co.names {
		args = append(args, "oci-tar:"+co.next+":"+name)
	}
	return args
}

// flattenArgs are the arguments of `ocitar flatten` of the stack base+delta into out.
func (co deltaCorpus) flattenArgs(out string) []string {
	return []string{"flatten", "-q", "-o", out, co.stack()}
}

func (co deltaCorpus) stack() string { return co.base + "+" + co.delta }

// generateDelta writes the layers of both versions into dir and returns
// the images.
func generateDelta(dir string, spec deltaSpec) (base, next []corpusImage, err error) {
	layer := func(seed uint64, size int64) (blob, error) {
		return writeBlobFile(filepath.Join(dir, fmt.Sprintf("%d.tar", seed)), ocispec.MediaTypeImageLayer, func(w io.Writer) error {
			return testimage.WriteLayer(w, testimage.LayerSpec{Seed: seed, Size: size, Content: testimage.Repeated})
		})
	}
	var shared []blob
	for i, size := range spec.shared {
		l, err := layer(uint64(1+i), size)
		if err != nil {
			return nil, nil, err
		}
		shared = append(shared, l)
	}
	image := func(i int, own ...blob) corpusImage {
		layers := append(append([]blob(nil), shared...), own...)
		return corpusImage{name: deltaName(i), layers: layers, config: configBlob(layers)}
	}
	for i := range deltaImages {
		runtime, err := layer(uint64(100+i), spec.runtime)
		if err != nil {
			return nil, nil, err
		}
		app, err := layer(uint64(200+i), spec.app)
		if err != nil {
			return nil, nil, err
		}
		base = append(base, image(i, runtime, app))
		if deltaIsUpdated(i) {
			if app, err = layer(uint64(300+i), spec.newApp); err != nil {
				return nil, nil, err
			}
		}
		next = append(next, image(i, runtime, app))
	}
	return base, next, nil
}

// countNewBlobs sums the blobs of the base, and those of the flat archive
// the base lacks: what a delta must hold at least.
func (co *deltaCorpus) countNewBlobs() error {
	base, err := tarBlobs(co.base)
	if err != nil {
		return err
	}
	flat, err := tarBlobs(co.flat)
	if err != nil {
		return err
	}
	for _, size := range base {
		co.baseBlobs += size
	}
	for name, size := range flat {
		if _, ok := base[name]; !ok {
			co.newBlobs += size
			co.newCount++
		}
	}
	return nil
}

// tarBlobs is the size of each entry under blobs/ of the tar at path.
func tarBlobs(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	blobs := map[string]int64{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return blobs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if hdr.Typeflag == tar.TypeReg && strings.HasPrefix(hdr.Name, "blobs/") {
			blobs[hdr.Name] = hdr.Size
		}
	}
}

// deltaResult is what the delta group measured.
type deltaResult struct {
	deltaCorpus
	writes groupResult // the delta, the full save and the flatten, side by side
	serve  serveResult // the stack and the flat archive, side by side
}

// measureDelta times the two saves and the flatten in turn, c.runs times,
// then serves the stack and the flat archive in turn, servingRuns times,
// each pulling the updated image co.pulled.
func measureDelta(c config, co deltaCorpus, h host) (deltaResult, error) {
	res := deltaResult{deltaCorpus: co}
	out := filepath.Join(c.work, "out")
	oc := func(name, output string, args []string) command {
		return command{name: name, argv: append([]string{c.ocitar, "--insecure-policy", "--tmpdir", tmpDirArg}, args...), output: output}
	}
	writes := group{title: deltaTitle, cmds: []command{
		oc(deltaWrite, out+"/delta.tar", co.saveArgs(out+"/delta.tar", true)),
		oc(deltaFull, out+"/full.tar", co.saveArgs(out+"/full.tar", false)),
		oc(deltaFlatten, out+"/flat.tar", co.flattenArgs(out+"/flat.tar")),
	}}
	var err error
	if res.writes, err = measureGroup(writes, c.runs, h); err != nil {
		return res, err
	}
	ocitar := []string{c.ocitar}
	res.serve, err = measureServers(c, []serveStart{
		{deltaStack, func() (*serveServer, error) { return serveStartOcitar(ocitar, co.stack()) }},
		{deltaFlat, func() (*serveServer, error) { return serveStartOcitar(ocitar, co.flat) }},
	}, co.pulled)
	return res, err
}
