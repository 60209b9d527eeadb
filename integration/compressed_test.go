package integration

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Compressed archives (issue 19): ocitar's own seekable .tar.zst and .tar.gz
// read by every other reader, and every form a bundle comes in served to
// every client.

// The first bytes of a gzip member and of a zstd frame, and the last four of
// a zstd seekable-format seek table.
var (
	gzipMagic     = []byte{0x1f, 0x8b}
	zstdMagic     = []byte{0x28, 0xb5, 0x2f, 0xfd}
	seekableMagic = []byte{0xb1, 0xea, 0x92, 0x8f}
)

// compressedName is the name the tests store images under.
const compressedName = "example.com/a:1"

// compressedCopy copies src with ocitar into oci-tar:out:compressedName, with
// flags before the references, and returns out.
func compressedCopy(t *testing.T, src dockerSource, out string, flags ...string) string {
	t.Helper()
	args := append(append([]string{"copy", "--insecure-policy", "-q"}, src.flags...), flags...)
	run(t, ocitar, append(args, src.ref(), "oci-tar:"+out+":"+compressedName)...)
	return out
}

// compressedAssertMagic fails t unless the file at path starts with head and ends with tail.
func compressedAssertMagic(t *testing.T, path string, head, tail []byte) {
	t.Helper()
	data := readFile(t, path)
	if !bytes.HasPrefix(data, head) || !bytes.HasSuffix(data, tail) {
		t.Errorf("%s starts % x and ends % x, want % x ... % x", path, data[:min(len(data), 4)], data[max(len(data)-4, 0):], head, tail)
	}
}

// TestCompressedDockerLoad loads ocitar's .tar.gz into docker 20.10 (the
// private dockerd), which takes gzip but not zstd: each image keeps its
// config digest (its docker ID), its DiffIDs and its tag.
func TestCompressedDockerLoad(t *testing.T) {
	d := dockerStartDaemon(t)
	for _, src := range dockerSources {
		t.Run(src.file, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.tar.gz")
			d.assertLoadsCopy(t, src, out)
			compressedAssertMagic(t, out, gzipMagic, nil)
		})
	}
}

// TestCompressedPodmanLoad loads ocitar's .tar.zst, the zstd seekable format,
// with podman 4.3 into a private store: each image's ID is its config digest,
// with its DiffIDs and its tag.
func TestCompressedPodmanLoad(t *testing.T) {
	for _, src := range dockerSources {
		t.Run(src.file, func(t *testing.T) {
			out := compressedCopy(t, src, filepath.Join(t.TempDir(), "out.tar.zst"))
			compressedAssertMagic(t, out, zstdMagic, seekableMagic)
			store := storageNew(t)
			store.podman(t, "load", "-q", "-i", out)
			config, diffIDs := dockerSourceConfig(t, src)
			store.assertImage(t, compressedName, config, diffIDs)
		})
	}
}

// TestCompressedReadersSameTar writes each image as a plain tar
// (--dest-archive-compression none), as .tar.gz and .tar.zst by the name, and
// as gzip and zstd on standard output by the flag: the compressed files on
// standard output are those written by name, byte for byte; gzip -d, pigz -d
// and zstd -d give the plain tar, byte for byte; tar -xz and tar --zstd -x
// give the tree tar -x gives of the plain tar.
func TestCompressedReadersSameTar(t *testing.T) {
	for _, src := range dockerSources {
		t.Run(src.file, func(t *testing.T) {
			dir := t.TempDir()
			plain := compressedCopy(t, src, filepath.Join(dir, "out.tar"), "--dest-archive-compression", "none")
			written := map[string]string{
				"gzip": compressedCopy(t, src, filepath.Join(dir, "out.tar.gz")),
				"zstd": compressedCopy(t, src, filepath.Join(dir, "out.tar.zst")),
			}
			compressedAssertMagic(t, written["gzip"], gzipMagic, nil)
			compressedAssertMagic(t, written["zstd"], zstdMagic, seekableMagic)
			for format, path := range written {
				args := append([]string{"copy", "--insecure-policy", "-q", "--dest-archive-compression", format}, src.flags...)
				stdout := run(t, ocitar, append(args, src.ref(), "oci-tar:-:"+compressedName)...)
				if want := readFile(t, path); !bytes.Equal(stdout, want) {
					t.Errorf("ocitar copy --dest-archive-compression %s %s oci-tar:- wrote %s, want the bytes of %s (%s)",
						format, src.ref(), sha256Digest(stdout), path, sha256Digest(want))
				}
			}

			want := readFile(t, plain)
			wantTree := filepath.Join(dir, "plain")
			compressedUntar(t, wantTree, plain, "-x")
			for _, r := range []struct {
				format string
				p      peer
				args   []string // before the file; tar's extract it
			}{
				{"gzip", gzip, []string{"-d", "-c"}},
				{"gzip", pigz, []string{"-d", "-c"}},
				{"zstd", zstd, []string{"-d", "-c", "-q"}},
				{"gzip", gnuTar, []string{"-xz"}},
				{"zstd", gnuTar, []string{"--zstd", "-x"}},
			} {
				file := written[r.format]
				if r.p == gnuTar {
					tree := filepath.Join(t.TempDir(), "tree")
					compressedUntar(t, tree, file, r.args...)
					umociAssertSameTree(t, tree, wantTree)
				} else if got := run(t, r.p, append(r.args, file)...); !bytes.Equal(got, want) {
					t.Errorf("%s %s %s: %d bytes, %s; want the plain tar %s, %d bytes, %s",
						r.p, strings.Join(r.args, " "), file, len(got), sha256Digest(got), plain, len(want), sha256Digest(want))
				}
			}
		})
	}
}

// compressedUntar extracts file into a new directory dir with tar and flags.
func compressedUntar(t *testing.T, dir, file string, flags ...string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, gnuTar, append(flags, "-f", file, "-C", dir)...)
}

// compressedK3s compresses plain as k3s and rke2 do (zstd -T0 -16
// --long=25), at level 3 to keep the tests quick: --long=25 still gives the
// 32 MiB window and -T0 the one frame, which is checked.
func compressedK3s(t *testing.T, plain, out string) {
	t.Helper()
	compressedTo(t, out, zstd, "-T0", "-3", "--long=25", "-q", "-c", plain)
	if n := compressedFrames(t, out); n != 1 {
		t.Fatalf("zstd -T0 --long=25 wrote %s with %d frames, want the one frame of a k3s bundle", out, n)
	}
}

// compressedTo runs p with args and writes its standard output to out.
func compressedTo(t *testing.T, out string, p peer, args ...string) {
	t.Helper()
	if err := os.WriteFile(out, run(t, p, args...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// zstdFrames matches the count of zstd frames zstd -lv prints.
var zstdFrames = regexp.MustCompile(`(?m)^# Zstandard Frames: (\d+)$`)

// compressedFrames is the number of zstd frames in the file at path, as zstd -lv counts them.
func compressedFrames(t *testing.T, path string) int {
	t.Helper()
	out := run(t, zstd, "-lv", path)
	m := zstdFrames.FindSubmatch(out)
	if m == nil {
		t.Fatalf("zstd -lv %s printed no frame count:\n%s", path, out)
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCompressedRecompressK3s turns a k3s-style bundle (one zstd frame with a
// 32 MiB window; see compressedK3s) into ocitar's .tar.zst, several frames
// and a seek table, and into its .tar.gz: the tar zstd -dc gives of each is
// the bundle's, byte for byte (zstd reads gzip too).
func TestCompressedRecompressK3s(t *testing.T) {
	for _, file := range []string{"sample.docker.tar", "sample-multi.oci.tar"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "k3s.tar.zst")
			compressedK3s(t, testdata(file), in)
			want := sha256.Sum256(run(t, zstd, "-dc", "-q", in))
			for _, out := range []string{filepath.Join(dir, "out.tar.zst"), filepath.Join(dir, "out.tar.gz")} {
				run(t, ocitar, "--cache-dir", t.TempDir(), "recompress", "-q", in, out)
				if strings.HasSuffix(out, ".zst") {
					compressedAssertMagic(t, out, zstdMagic, seekableMagic)
					if n := compressedFrames(t, out); n < 2 {
						t.Errorf("ocitar recompress %s %s: %d zstd frame, want one per tar entry", in, out, n)
					}
				} else {
					compressedAssertMagic(t, out, gzipMagic, nil)
				}
				if got := sha256.Sum256(run(t, zstd, "-dc", "-q", out)); got != want {
					t.Errorf("zstd -dc %s | sha256sum: %x, want %x as zstd -dc %s", out, got, want, in)
				}
			}
		})
	}
}

// compressedForm is one form a bundle comes in, made from the plain tar.
type compressedForm struct {
	name   string
	file   string                                // its file name
	make   func(t *testing.T, plain, out string) // nil: the plain tar itself
	cached []string                              // what ocitar keeps in --cache-dir: index/, blobs/ or neither
}

// compressedForms are the plain tar; foreign gzip (gzip -6, pigz), which
// ocitar indexes in one pass, keeping the index and the blob of its
// windows; a k3s bundle, one zstd frame
// small enough (up to 64 MiB) to be entered at its start;
// pzstd's frames, which do not record their size, decompressed once into the
// cache; and ocitar's own forms, read in place from their tables.
var compressedForms = []compressedForm{
	{name: "plain"},
	{name: "gzip-6", file: "gzip-6.tar.gz", cached: []string{"index", "blobs"}, make: func(t *testing.T, plain, out string) {
		compressedTo(t, out, gzip, "-6", "-c", plain)
	}},
	{name: "pigz", file: "pigz.tar.gz", cached: []string{"index", "blobs"}, make: func(t *testing.T, plain, out string) {
		compressedTo(t, out, pigz, "-c", plain)
	}},
	{name: "k3s-zstd", file: "k3s.tar.zst", make: compressedK3s},
	{name: "pzstd", file: "pzstd.tar.zst", cached: []string{"index", "blobs"}, make: func(t *testing.T, plain, out string) {
		// Level 1 for frames of 2 MiB, so that the archive spans several.
		compressedTo(t, out, pzstd, "-1", "-p", "2", "-q", "-c", plain)
		if n := compressedFrames(t, out); n < 2 {
			t.Fatalf("pzstd wrote %s with %d frame, want several", out, n)
		}
	}},
	{name: "ocitar-zstd", file: "ocitar.tar.zst", make: compressedRecompress},
	{name: "ocitar-gzip", file: "ocitar.tar.gz", make: compressedRecompress},
}

// compressedRecompress writes out with ocitar recompress, compressed as its name says.
func compressedRecompress(t *testing.T, plain, out string) {
	t.Helper()
	run(t, ocitar, "--cache-dir", t.TempDir(), "recompress", "-q", plain, out)
}

// TestCompressedServePull serves the archive of TestServePull in every form,
// each with ocitar serve of its own, with its own empty --cache-dir and
// --tmpdir, and pulls it with every client as TestServePull does, checking
// config digests and DiffIDs. Then --tmpdir is still empty, and --cache-dir
// holds only what the form needs (compressedForms): for the plain tar and
// ocitar's own forms, nothing under index/ or blobs/.
func TestCompressedServePull(t *testing.T) {
	dir := t.TempDir()
	a := serveArchiveMake(t, dir)
	for _, form := range compressedForms {
		t.Run(form.name, func(t *testing.T) {
			formDir := t.TempDir()
			path := a.path
			if form.make != nil {
				path = filepath.Join(formDir, form.file)
				form.make(t, a.path, path)
			}
			cacheDir, tmpDir := filepath.Join(formDir, "cache"), filepath.Join(formDir, "tmp")
			for _, d := range []string{cacheDir, tmpDir} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			host := serveStart(t, formDir, "--cache-dir", cacheDir, "--tmpdir", tmpDir, path).host
			t.Run("pull", func(t *testing.T) { servePullEvery(t, a, host) })

			if names := dirNames(t, tmpDir); len(names) > 0 {
				t.Errorf("ocitar serve %s left %v in --tmpdir %s, want it empty", path, names, tmpDir)
			}
			compressedAssertCached(t, path, cacheDir, form.cached...)
		})
	}
}

// compressedExtractNotice starts what ocitar serve prints of an archive it
// decompresses into the cache.
const compressedExtractNotice = "is zstd that cannot be entered mid-stream"

// TestCompressedServeK3sBundle serves a k3s bundle too large to be entered
// (one zstd frame of 72 MiB, above ocitar's 64 MiB; made as compressedK3s
// says), which ocitar decompresses once into the cache, saying so once and
// naming ocitar recompress, with nothing under --tmpdir; skopeo and crane pull
// its image with its config and DiffIDs. A second ocitar serve with the same
// cache reads the kept files: it says nothing, and the cache holds the same
// files as before.
func TestCompressedServeK3sBundle(t *testing.T) {
	plain := largeArchive(t, 72)
	want := serveImage{name: largeImage}
	want.config, want.diffIDs = storageConfig(t, nil, "oci-tar:"+plain)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "k3s-airgap-images.tar.zst")
	compressedK3s(t, plain, bundle)
	cacheDir, tmpDir := filepath.Join(dir, "cache"), filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmpDir, 0o755); err != nil {
		t.Fatal(err)
	}

	var files []string
	for i, wantNotices := range []int{1, 0} {
		logDir := t.TempDir()
		s := serveStart(t, logDir, "--cache-dir", cacheDir, "--tmpdir", tmpDir, bundle)
		compressedPullLarge(t, want, s.host)
		s.stop(t)
		log := string(readFile(t, s.log))
		if n := strings.Count(log, compressedExtractNotice); n != wantNotices || (n > 0 && !strings.Contains(log, "ocitar recompress "+bundle)) {
			t.Errorf("ocitar serve #%d of %s printed %q %d times, want %d, naming ocitar recompress %s:\n%s",
				i+1, bundle, compressedExtractNotice, n, wantNotices, bundle, log)
		}
		if names := dirNames(t, tmpDir); len(names) > 0 {
			t.Errorf("ocitar serve #%d of %s left %v in --tmpdir %s, want it empty", i+1, bundle, names, tmpDir)
		}
		compressedAssertCached(t, bundle, cacheDir, "index", "blobs")
		now := append(compressedFiles(t, filepath.Join(cacheDir, "index")), compressedFiles(t, filepath.Join(cacheDir, "blobs"))...)
		if i > 0 && !slices.Equal(now, files) {
			t.Errorf("ocitar serve #2 of %s changed --cache-dir %s from %v to %v, want it to write nothing new", bundle, cacheDir, files, now)
		}
		files = now
	}
}

// compressedPullLarge pulls largeImage from host with skopeo, to a directory,
// and crane, to a tarball: each must be the image want.
func compressedPullLarge(t *testing.T, want serveImage, host string) {
	t.Helper()
	ref := host + "/" + largeImage
	out := filepath.Join(t.TempDir(), "image")
	run(t, skopeo, "--insecure-policy", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "dir:"+out)
	config, diffIDs := readDirImage(t, out)
	serveAssertImage(t, "skopeo copy", "docker://"+ref, want, config, diffIDs)

	tarball := filepath.Join(t.TempDir(), "crane.tar")
	runEnv(t, []string{"HOME=" + t.TempDir()}, crane, "pull", "--insecure", ref, tarball)
	config, diffIDs = storageConfig(t, nil, "oci-tar:"+tarball)
	serveAssertImage(t, "crane pull", ref, want, config, diffIDs)
}

// compressedAssertCached fails t unless, of index/ and blobs/ in the cache
// directory dir that ocitar read archive with, those named by want hold files
// and the others none.
func compressedAssertCached(t *testing.T, archive, dir string, want ...string) {
	t.Helper()
	for _, sub := range []string{"index", "blobs"} {
		files := compressedFiles(t, filepath.Join(dir, sub))
		if wanted := slices.Contains(want, sub); wanted != (len(files) > 0) {
			t.Errorf("ocitar read %s with --cache-dir %s, whose %s/ holds %v; want it to hold files: %v", archive, dir, sub, files, wanted)
		}
	}
}

// compressedFiles lists the files under dir, which may not exist, with their sizes.
func compressedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, strings.TrimPrefix(path, dir+"/")+" "+strconv.FormatInt(info.Size(), 10))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return files
}
