package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The compressed rows of issue 19: an image as a plain tar, compressed as
// bundles arrive (gzip -6, pigz, zstd in one frame as k3s makes it) and as
// ocitar writes them (seekable), each served by `ocitar serve` and opened by
// `ocitar inspect`, beside today's spool: the ocitar before issue 19, which
// decompressed a compressed archive whole into --tmpdir first.

// compressedTitle starts the title of each set of compressed rows, for the
// report and -only.
const compressedTitle = "compressed archives in place"

// spoolCommit is the last commit whose ocitar decompressed a compressed
// archive whole into --tmpdir: today's spool.
const spoolCommit = "dc5afff"

// How a form is opened, one row each.
const (
	openPlain   = "-"
	openInPlace = "in place"
	openFirst   = "first open" // with an empty --cache-dir
	openNext    = "next open"  // with what the first open left in --cache-dir
	openSpool   = "today's spool (" + spoolCommit + ")"
)

// formKind is how ocitar reads a form, and so which rows and targets it has.
type formKind int

const (
	plainTar    formKind = iota
	seekable             // ocitar's own: entered at each entry, nothing kept
	foreignGzip          // one pass builds a checkpoint index, which the cache keeps
	oneFrame             // zstd in one frame: one pass puts its files into the cache
)

// opens are the rows of a form of kind k; spool adds today's spool.
func (k formKind) opens(spool bool) []string {
	var opens []string
	switch k {
	case plainTar:
		return []string{openPlain}
	case seekable:
		opens = []string{openInPlace}
	default:
		opens = []string{openFirst, openNext}
	}
	if spool {
		opens = append(opens, openSpool)
	}
	return opens
}

// compressedForm is one file holding the image.
type compressedForm struct {
	name  string // as the report shows it
	kind  formKind
	path  string
	bytes int64 // of the file
	opens []string
}

// compressedSet is the forms of one image, measured side by side.
type compressedSet struct {
	title   string
	image   string // the image's name, which the pulls ask for
	size    int64  // bytes of the plain tar
	runs    int    // 0 is the harness's -runs
	rssOnly bool   // its only targets are on peak RSS
	forms   []compressedForm
}

// formMaker makes a form from the plain tar.
type formMaker struct {
	name   string
	kind   formKind
	suffix string // replaces the plain tar's .tar
	argv   func(ocitar, in, out string) []string
}

// Names of the forms in the report.
const (
	formPlain      = "plain tar"
	formGzip       = "gzip -6 .tar.gz"
	formPigz       = "pigz .tar.gz"
	formOneFrame   = "zstd -T0 -16 --long=25 .tar.zst (one frame, as k3s)"
	formOcitarZstd = "ocitar .tar.zst (seekable format)"
	formOcitarGzip = "ocitar .tar.gz (a member per entry)"
)

func shell(script string) func(_, in, out string) []string {
	return func(_, in, out string) []string { return []string{"sh", "-c", script, "sh", in, out} }
}

func recompress(ocitar, in, out string) []string {
	return []string{ocitar, "recompress", "-q", in, out}
}

var formMakers = map[string]formMaker{
	formGzip:     {formGzip, foreignGzip, ".gzip6.tar.gz", shell(`gzip -6 -n -c "$1" >"$2"`)},
	formPigz:     {formPigz, foreignGzip, ".pigz.tar.gz", shell(`pigz -n -c "$1" >"$2"`)},
	formOneFrame: {formOneFrame, oneFrame, ".k3s.tar.zst", shell(`zstd -q -f -T0 -16 --long=25 "$1" -o "$2"`)},
	// ocitar recompress writes the form its output's name asks for.
	formOcitarZstd: {formOcitarZstd, seekable, ".seekable.tar.zst", recompress},
	formOcitarGzip: {formOcitarGzip, seekable, ".seekable.tar.gz", recompress},
}

// prepareCompressed makes the sets of compressed rows: every form of the
// main image beside today's spool, and a few forms of the largest image of
// the memory series, for peak RSS at that size. Each form is made once and
// kept until the plain tar, the command or (for ocitar's forms) the ocitar
// binary changes.
func prepareCompressed(c config, main, largest memImage) ([]compressedSet, error) {
	binary, err := fileSum(c.ocitar)
	if err != nil {
		return nil, err
	}
	sets := []compressedSet{
		{title: fmt.Sprintf("%s: the %d MiB image", compressedTitle, main.size>>20), image: main.name},
		{title: fmt.Sprintf("%s: peak RSS at %d MiB", compressedTitle, largest.size>>20), image: largest.name, runs: 1, rssOnly: true},
	}
	forms := [][]string{
		{formPlain, formGzip, formPigz, formOneFrame, formOcitarZstd, formOcitarGzip},
		{formPlain, formPigz, formOcitarZstd},
	}
	for i, img := range []memImage{main, largest} {
		st, err := os.Stat(img.oci)
		if err != nil {
			return nil, err
		}
		sets[i].size = st.Size()
		for _, name := range forms[i] {
			f, err := makeForm(c, name, img.oci, binary, i == 0)
			if err != nil {
				return nil, err
			}
			sets[i].forms = append(sets[i].forms, f)
		}
	}
	return sets, nil
}

// makeForm makes the form called name of the plain tar, unless an earlier
// run left it; spool adds the row of today's spool.
func makeForm(c config, name, plain, binary string, spool bool) (compressedForm, error) {
	st, err := os.Stat(plain)
	if err != nil {
		return compressedForm{}, err
	}
	if name == formPlain {
		return compressedForm{name: name, kind: plainTar, path: plain, bytes: st.Size(), opens: plainTar.opens(false)}, nil
	}
	m := formMakers[name]
	f := compressedForm{name: name, kind: m.kind, path: strings.TrimSuffix(plain, ".tar") + m.suffix, opens: m.kind.opens(spool)}
	argv := m.argv(c.ocitar, plain, f.path)
	key := fmt.Sprintf("%q of %d bytes from %s", argv, st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano))
	if m.kind == seekable {
		key += ", ocitar " + binary
	}
	err = cached(c.work, filepath.Base(f.path), key, func() error {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	made, err := os.Stat(f.path)
	if err != nil {
		return f, err
	}
	f.bytes = made.Size()
	return f, nil
}

// fileSum is the SHA-256 of a file, in hex.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// spoolBinary is the ocitar of today's spool: -ocitar-old, or the one built
// once from spoolCommit into the work dir.
func spoolBinary(c config) (string, error) {
	if c.ocitarOld != "" {
		return filepath.Abs(c.ocitarOld)
	}
	dir := filepath.Join(c.work, "ocitar-"+spoolCommit)
	err := cached(c.work, "ocitar-"+spoolCommit, spoolCommit, func() error { return buildAt(spoolCommit, dir) })
	return filepath.Join(dir, "ocitar"), err
}

// buildAt builds the ocitar of commit into dir/ocitar as that commit's own
// `make build` does (its Makefile's GOFLAGS), from its tree (git archive)
// in a temporary directory outside any checkout.
func buildAt(commit, dir string) error {
	src, err := os.MkdirTemp("", "ocitar-"+commit+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	tree := filepath.Join(src, "tree.tar")
	for _, argv := range [][]string{
		{"git", "archive", "--format=tar", "-o", tree, commit},
		{"tar", "-xf", tree, "-C", src},
		{"make", "-C", src, "build", "BIN=" + dir},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("building today's spool (or give -ocitar-old, the ocitar of commit %s): %s: %w: %s", commit, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// compressedRow is one form opened one way, every run of it.
type compressedRow struct {
	form    compressedForm
	open    string
	samples []compressedSample
}

// compressedSample is one run of a row: the server, then `ocitar inspect`.
type compressedSample struct {
	serve        serveSample
	inspect      sample
	served, seen dirUse // by the server, and by inspect
	index        int64  // bytes under --cache-dir's index/ once the server stopped
}

// dirUse is what a command did to --tmpdir and --cache-dir.
type dirUse struct {
	tmp, cache              int64 // peak bytes under each
	cacheBefore, cacheAfter int64
}

// cacheNew is how far --cache-dir grew beyond what it held before.
func (u dirUse) cacheNew() int64 { return max(u.cache, u.cacheAfter) - u.cacheBefore }

func (u dirUse) cacheChanged() bool { return u.cache != u.cacheBefore || u.cacheAfter != u.cacheBefore }

// compressedResult is every run of every row of a set.
type compressedResult struct {
	compressedSet
	bytes int64 // of one pull: manifest, config and layers
	rows  []*compressedRow
}

// rig is where the compressed rows run: the two binaries, and a --tmpdir
// and a --cache-dir in the work dir, both on its disk, as ~/.cache and
// /var/tmp are.
type rig struct {
	ocitar, spool string
	work          string
	tmp           *tmpDir
	cache         string
}

// measureCompressed runs every row of set in turn, runs times: a "next
// open" right after its "first open", whose --cache-dir it keeps.
func measureCompressed(c config, set compressedSet, spool string) (compressedResult, error) {
	res := compressedResult{compressedSet: set}
	for _, f := range set.forms {
		for _, open := range f.opens {
			res.rows = append(res.rows, &compressedRow{form: f, open: open})
		}
	}
	g := &rig{ocitar: c.ocitar, spool: spool, work: c.work, cache: filepath.Join(c.work, "cache")}
	defer g.remove()
	runs := c.runs
	if set.runs > 0 {
		runs = set.runs
	}
	for range runs {
		for _, r := range res.rows {
			s, n, err := g.measure(r, set.image)
			if err != nil {
				return res, fmt.Errorf("%s, %s: %w", r.form.name, r.open, err)
			}
			res.bytes = n
			r.samples = append(r.samples, s)
		}
	}
	return res, nil
}

// measure serves r's file and pulls from it, then inspects it. A next open
// finds --cache-dir as the run before it left it; every other starts, and
// inspects, with it empty.
func (g *rig) measure(r *compressedRow, image string) (compressedSample, int64, error) {
	var s compressedSample
	ocitar := g.binary(r.open)
	keep := r.open == openNext
	if r.open == openFirst || r.open == openSpool {
		if err := warm(r.form.path); err != nil {
			return s, 0, err
		}
	}
	if err := g.reset(keep); err != nil {
		return s, 0, err
	}
	before := dirSize(g.cache)
	peaks := samplePeaks(g.tmp.every(), g.tmp.used, g.cacheUsed)
	serve, n, err := serveRun(func() (*serveServer, error) { return serveStartOcitar(ocitar, r.form.path) }, image)
	p := peaks.stop()
	if err != nil {
		return s, 0, fmt.Errorf("ocitar serve: %w", err)
	}
	s.serve, s.served = serve, dirUse{tmp: p[0], cache: p[1], cacheBefore: before, cacheAfter: dirSize(g.cache)}
	s.index = dirSize(filepath.Join(g.cache, "index"))
	if err := g.reset(keep); err != nil {
		return s, 0, err
	}
	before = dirSize(g.cache)
	if s.inspect, err = run(append(ocitar, "inspect", "oci-tar:"+r.form.path), nil, g.tmp, g.cacheUsed); err != nil {
		return s, 0, err
	}
	s.seen = dirUse{tmp: s.inspect.peaks[0], cache: s.inspect.peaks[1], cacheBefore: before, cacheAfter: dirSize(g.cache)}
	return s, n, nil
}

// warm reads the file at path whole, into the page cache, before a row
// whose open reads it whole, as the inspect after the server finds it. On
// a machine whose page cache the other rows (or other work) fill, a 4 GiB
// form read cold took the server's first open 12.3 s where inspect's,
// reading it warm just after, took 1.9 s: the time of the disk, not of
// ocitar.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// compressedMaxRatio is the bound on decompression the compressed rows
// give both binaries. The bound holds at every point of the stream, and a
// text layer of the corpus, one 1 MiB block repeated, comes out of zstd
// --long=25 about 1500 times smaller: over the default of 100 from its first
// MiB, though the whole archive is 2:1.
const compressedMaxRatio = "10000"

// binary is the command line of the ocitar that opens a row, with its
// --tmpdir and, unless it is today's spool, which has none, its --cache-dir.
func (g *rig) binary(open string) []string {
	common := []string{"--insecure-policy", "--max-decompression-ratio", compressedMaxRatio, "--tmpdir", filepath.Join(g.work, "tmp")} // newTmpDir's
	if open == openSpool {
		return append([]string{g.spool}, common...)
	}
	return append(append([]string{g.ocitar}, common...), "--cache-dir", g.cache)
}

// reset empties --tmpdir and, unless keep, --cache-dir, then syncs: no run
// pays for what the one before it left dirty.
func (g *rig) reset(keep bool) error {
	if g.tmp != nil {
		if err := g.tmp.remove(); err != nil {
			return err
		}
	}
	var err error
	if g.tmp, err = newTmpDir(g.work, false); err != nil {
		return err
	}
	if !keep {
		if err := os.RemoveAll(g.cache); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(g.cache, 0o755); err != nil {
		return err
	}
	syscall.Sync()
	return nil
}

func (g *rig) cacheUsed() int64 { return dirSize(g.cache) }

func (g *rig) remove() {
	if g.tmp != nil {
		g.tmp.remove()
	}
	os.RemoveAll(g.cache)
}
