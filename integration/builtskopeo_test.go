//go:build skopeo

// The tests of the files builtskopeo_*_test.go drive a skopeo built with
// oci-tar: (hack/build-skopeo.sh) through its own CLI. They run only with
// the build tag skopeo, from make test-skopeo SKOPEO_SRC=DIR, which builds
// bin/skopeo and names it in SKOPEO; without it they fail, never skip.

package integration

import (
	"bytes"
	gzipfmt "compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	zstdfmt "github.com/klauspost/compress/zstd"
)

// Media types the built skopeo's copies write or keep.
const (
	mediaTypeOCI    = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeDocker = "application/vnd.docker.distribution.manifest.v2+json"
)

// builtSkopeo is the skopeo with oci-tar: that SKOPEO names (relative to the
// module root when relative); the test fails when there is none.
func builtSkopeo(t *testing.T) peer {
	t.Helper()
	path := os.Getenv("SKOPEO")
	if path == "" {
		t.Fatal("SKOPEO is not set: run make test-skopeo SKOPEO_SRC=DIR, which builds bin/skopeo with oci-tar: and sets it")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(moduleRoot, path)
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("SKOPEO=%s is not a program (%v): run make skopeo SKOPEO_SRC=DIR", path, err)
	}
	return peer(path)
}

// sk runs the built skopeo with --insecure-policy and args, and returns its standard output.
func sk(t *testing.T, args ...string) []byte {
	t.Helper()
	return run(t, builtSkopeo(t), append([]string{"--insecure-policy"}, args...)...)
}

// skCopy is skopeo copy -q with flags from src to dst, TLS verification off
// for the test's registry.
func skCopy(t *testing.T, flags []string, src, dst string) {
	t.Helper()
	args := append([]string{"copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false"}, flags...)
	sk(t, append(args, src, dst)...)
}

// skFailing runs the built skopeo with --insecure-policy and args, which must
// exit with status 1 and print one line, skopeo's fatal log line, that says
// want; it returns that line.
func skFailing(t *testing.T, want string, args ...string) string {
	t.Helper()
	stderr := runFailing(t, builtSkopeo(t), append([]string{"--insecure-policy"}, args...)...)
	line, rest, _ := strings.Cut(strings.TrimSuffix(stderr, "\n"), "\n")
	if rest != "" || !strings.Contains(line, "level=fatal") || !strings.Contains(line, want) {
		t.Errorf("skopeo %s: stderr %q, want one fatal line that says %q", strings.Join(args, " "), stderr, want)
	}
	return line
}

// imageFacts is what a manifest and its config say of an image.
type imageFacts struct {
	manifest  string   // the digest of the manifest (or index)
	mediaType string   // of the manifest
	layers    []string // the layer digests the manifest lists
	config    string   // the digest of the config, of the platform chosen for an index
	diffIDs   []string // the config's
}

// factsOf reads ref with p's inspect --raw and --config --raw (flags before
// them): p is the built skopeo (TLS verification off) or ocitar.
func factsOf(t *testing.T, p peer, flags []string, ref string) imageFacts {
	t.Helper()
	inspect := func(extra ...string) []byte {
		args := append(append([]string{"inspect"}, flags...), extra...)
		if p != ocitar {
			return sk(t, append(append(args, "--tls-verify=false"), ref)...)
		}
		return run(t, p, append(args, ref)...)
	}
	raw := inspect("--raw")
	var m struct {
		MediaType string `json:"mediaType"`
		Layers    []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s inspect --raw %s: %v\n%s", p, ref, err, raw)
	}
	f := imageFacts{manifest: sha256Digest(raw), mediaType: m.MediaType}
	for _, l := range m.Layers {
		f.layers = append(f.layers, l.Digest)
	}
	config := inspect("--config", "--raw")
	f.config = sha256Digest(config)
	f.diffIDs = configDiffIDs(t, config)
	return f
}

// configDiffIDs are the DiffIDs of an image config.
func configDiffIDs(t *testing.T, config []byte) []string {
	t.Helper()
	var c struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		t.Fatalf("config %s: %v\n%s", sha256Digest(config), err, config)
	}
	return c.RootFS.DiffIDs
}

// assertSameImage checks that got has want's config and DiffIDs, which no
// copy changes, and, when manifest is set, want's manifest too.
func assertSameImage(t *testing.T, what string, got, want imageFacts, manifest bool) {
	t.Helper()
	if got.config != want.config || !slices.Equal(got.diffIDs, want.diffIDs) || len(got.diffIDs) == 0 {
		t.Errorf("%s: config %s with DiffIDs %v, want %s with %v", what, got.config, got.diffIDs, want.config, want.diffIDs)
	}
	if manifest && got.manifest != want.manifest {
		t.Errorf("%s: manifest %s (%s), want %s (%s)", what, got.manifest, got.mediaType, want.manifest, want.mediaType)
	}
}

// archiveImage reads the image named sel (a name, or @sha256:...) in an
// archive an oci-tar: destination wrote, straight from its tar, and checks
// it: the manifest and config are the blobs their digests name, and every
// layer uncompressed has the DiffID the config lists for it. It returns what
// it read and each layer's compression (gzip, zstd or none).
func archiveImage(t *testing.T, path, sel string) (imageFacts, []string) {
	t.Helper()
	want, isDigest := strings.CutPrefix(sel, "@")
	if !isDigest {
		for _, img := range ls(t, path) {
			if slices.Contains(img.Names, sel) {
				want = img.Digest
			}
		}
		if want == "" {
			t.Fatalf("ocitar ls %s: no image is named %s: %+v", path, sel, ls(t, path))
		}
	}
	blobs := map[string][]byte{}
	for _, e := range readTar(t, path) {
		if hex, ok := strings.CutPrefix(e.name, "blobs/sha256/"); ok && hex != "" {
			blobs["sha256:"+hex] = e.data
			if got := sha256Digest(e.data); got != "sha256:"+hex {
				t.Errorf("%s: %s holds %s", path, e.name, got)
			}
		}
	}
	blob := func(d string) []byte {
		data, ok := blobs[d]
		if !ok {
			t.Fatalf("%s: blob %s of image %s is not stored", path, d, sel)
		}
		return data
	}
	var m struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	raw := blob(want)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: manifest %s: %v", path, want, err)
	}
	config := blob(m.Config.Digest)
	f := imageFacts{manifest: want, mediaType: m.MediaType, config: m.Config.Digest, diffIDs: configDiffIDs(t, config)}
	var formats, uncompressed []string
	for _, l := range m.Layers {
		f.layers = append(f.layers, l.Digest)
		format, diffID := layerDiffID(t, blob(l.Digest))
		formats = append(formats, format)
		uncompressed = append(uncompressed, diffID)
	}
	if !slices.Equal(uncompressed, f.diffIDs) {
		t.Errorf("%s: the layers of %s uncompress to %v, its config lists the DiffIDs %v", path, sel, uncompressed, f.diffIDs)
	}
	return f, formats
}

// layerDiffID is the compression of a layer, told by its first bytes, and the
// digest of the layer uncompressed.
func layerDiffID(t *testing.T, layer []byte) (string, string) {
	t.Helper()
	var r io.Reader
	format := "none"
	switch {
	case bytes.HasPrefix(layer, []byte{0x1f, 0x8b}):
		format = "gzip"
		zr, err := gzipfmt.NewReader(bytes.NewReader(layer))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case bytes.HasPrefix(layer, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		format = "zstd"
		zr, err := zstdfmt.NewReader(bytes.NewReader(layer))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		r = bytes.NewReader(layer)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("layer %s (%s): %v", sha256Digest(layer), format, err)
	}
	return format, sha256Digest(data)
}

// TestBuiltSkopeoInspect inspects the images of an archive the built skopeo
// wrote with every selector form: skopeo inspect gives the image's digest,
// --raw the stored manifest (or index), --config --raw the config, and
// --config the config's DiffIDs.
func TestBuiltSkopeoInspect(t *testing.T) {
	out := filepath.Join(t.TempDir(), "two.tar")
	skCopy(t, nil, "oci-tar:"+testdata("sample.docker.tar"), "oci-tar:"+out+":docker.io/library/sample:1")
	skCopy(t, []string{"--all"}, "oci-tar:"+testdata("sample-multi.oci.tar"), "oci-tar:"+out+":example.com/ocitar/multi:1")
	images := ls(t, out)
	if len(images) != 2 {
		t.Fatalf("ocitar ls %s: %+v, want the two images the copies wrote", out, images)
	}
	amd64 := []string{"--override-os", "linux", "--override-arch", "amd64"}
	sample := factsOf(t, ocitar, nil, "oci-tar:"+out+":@0")
	multi := factsOf(t, ocitar, amd64, "oci-tar:"+out+":@1")
	one := testdata("peers/b-oci-one.skopeo.tar")
	tests := []struct {
		ref  string
		want imageFacts
	}{
		{"oci-tar:" + out + ":docker.io/library/sample:1", sample},
		{"oci-tar:" + out + ":library/sample:1", sample},
		{"oci-tar:" + out + ":sample:1", sample},
		{"oci-tar:" + out + ":example.com/ocitar/multi:1", multi},
		{"oci-tar:" + out + ":@0", sample},
		{"oci-tar:" + out + ":@1", multi},
		{"oci-tar:" + out + ":@" + images[0].Digest, sample},
		{"oci-tar:" + out + ":@" + images[1].Digest, multi},
		{"oci-tar:" + one, factsOf(t, ocitar, nil, "oci-tar:"+one)},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.ref, "oci-tar:"+filepath.Dir(out)+"/"), func(t *testing.T) {
			var inspected struct {
				Digest string `json:"Digest"`
				Layers []string
			}
			out := sk(t, append(slices.Clone(amd64), "inspect", tt.ref)...)
			if err := json.Unmarshal(out, &inspected); err != nil {
				t.Fatalf("skopeo inspect %s: %v\n%s", tt.ref, err, out)
			}
			if inspected.Digest != tt.want.manifest {
				t.Errorf("skopeo inspect %s: Digest %s, want %s", tt.ref, inspected.Digest, tt.want.manifest)
			}
			got := factsOf(t, builtSkopeo(t), amd64, tt.ref)
			assertSameImage(t, "skopeo inspect --raw, --config --raw "+tt.ref, got, tt.want, true)
			config := sk(t, append(slices.Clone(amd64), "inspect", "--config", tt.ref)...)
			if diffIDs := configDiffIDs(t, config); !slices.Equal(diffIDs, tt.want.diffIDs) {
				t.Errorf("skopeo inspect --config %s: DiffIDs %v, want %v", tt.ref, diffIDs, tt.want.diffIDs)
			}
		})
	}
}

// TestBuiltSkopeoStdin copies an image from oci-tar:-:NAME, standard input
// a pipe, plain, gzip or zstd, and from compressed archive files: the image
// arrives with its manifest, config and DiffIDs, and the spooled copy of the
// archive is gone from TMPDIR.
func TestBuiltSkopeoStdin(t *testing.T) {
	const name = "example.com/ocitar/sample:1"
	plain := readFile(t, testdata("sample.docker.tar"))
	want := factsOf(t, ocitar, nil, "oci-tar:"+testdata("sample.docker.tar"))
	var gz, zst bytes.Buffer
	gw := gzipfmt.NewWriter(&gz)
	zw, err := zstdfmt.NewWriter(&zst)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []io.WriteCloser{gw, zw} {
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files := t.TempDir()
	tests := []struct {
		name  string
		stdin []byte // nil: the source is file
		file  string
	}{
		{name: "pipe", stdin: plain},
		{name: "gzip pipe", stdin: gz.Bytes()},
		{name: "zstd pipe", stdin: zst.Bytes()},
		{name: "tar.gz", file: filepath.Join(files, "sample.tar.gz")},
		{name: "tar.zst", file: filepath.Join(files, "sample.tar.zst")},
	}
	if err := os.WriteFile(tests[3].file, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tests[4].file, zst.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp, dir := t.TempDir(), filepath.Join(t.TempDir(), "image")
			src := "oci-tar:-:" + name
			if tt.stdin == nil {
				src = "oci-tar:" + tt.file + ":" + name
			}
			cmd := command(t, []string{"TMPDIR=" + tmp}, builtSkopeo(t), "--insecure-policy", "copy", "-q", src, "dir:"+dir)
			var stderr bytes.Buffer
			cmd.Stdin, cmd.Stderr = bytes.NewReader(tt.stdin), &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("skopeo failed: %v\n  command: %s\n  stderr: %s", err, commandLine(cmd), stderr.String())
			}
			config, diffIDs := readDirImage(t, dir)
			got := imageFacts{manifest: sha256Digest(readFile(t, filepath.Join(dir, "manifest.json"))), config: config, diffIDs: diffIDs}
			assertSameImage(t, commandLine(cmd), got, want, true)
			if left := dirNames(t, tmp); len(left) != 0 {
				t.Errorf("%s left %v in its TMPDIR", commandLine(cmd), left)
			}
		})
	}
}

// TestBuiltSkopeoErrors checks the failures of oci-tar: as skopeo prints
// them: exit status 1, one line, ocitar's message inside; a refused
// destination leaves no file.
func TestBuiltSkopeoErrors(t *testing.T) {
	dir := t.TempDir()
	two := filepath.Join(dir, "two.tar")
	skCopy(t, nil, "oci-tar:"+testdata("sample.docker.tar"), "oci-tar:"+two+":first")
	skCopy(t, nil, "oci-tar:"+testdata("peers/b-oci-one.skopeo.tar"), "oci-tar:"+two+":second")
	link := filepath.Join(dir, "link.tar")
	if err := os.Symlink("two.tar", link); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not an archive\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "signed")
	skCopy(t, nil, "oci-tar:"+testdata("peers/b-oci-one.skopeo.tar"), "dir:"+signed)
	// Not verified under --insecure-policy; the copy engine hands it to the destination.
	if err := os.WriteFile(filepath.Join(signed, "signature-1"), []byte("\x00simple-signing\nunverified"), 0o644); err != nil {
		t.Fatal(err)
	}
	sample := "oci-tar:" + testdata("sample.docker.tar")
	elsewhere := t.TempDir() // for dir: destinations, which skopeo makes before it reads the source
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing name, inspect", []string{"inspect", "oci-tar:" + two + ":third"}, two + ": no image matches third; the archive holds: @0"},
		{"missing name, copy", []string{"copy", "oci-tar:" + two + ":third", "dir:" + filepath.Join(elsewhere, "x")}, "no image matches third"},
		{"no selector, two images", []string{"inspect", "oci-tar:" + two}, "more than one image matches"},
		{"corrupt blob", []string{"copy", "--all", corruptSource(t), "dir:" + filepath.Join(elsewhere, "y")}, "corrupt.tar: blobs/sha256/"},
		{"destination @N", []string{"copy", sample, "oci-tar:" + filepath.Join(dir, "new.tar") + ":@0"}, "a destination takes an image name, not @0"},
		{"destination a symlink", []string{"copy", sample, "oci-tar:" + link + ":third"}, link + " is a symbolic link (to two.tar)"},
		{"destination not an archive", []string{"copy", sample, "oci-tar:" + text + ":third"}, text + " exists and is not an image archive that can be added to"},
		{"signatures", []string{"copy", "dir:" + signed, "oci-tar:" + filepath.Join(dir, "signed.tar") + ":x"}, "oci-tar archives cannot store signatures"},
	}
	before := dirNames(t, dir)
	twoBytes := readFile(t, two)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := skFailing(t, tt.want, tt.args...)
			if tt.name == "corrupt blob" && !strings.Contains(line, "digest mismatch") {
				t.Errorf("%s: want a digest mismatch", line)
			}
			if names := dirNames(t, dir); !slices.Equal(names, before) {
				t.Errorf("%s holds %v after the failure, want %v", dir, names, before)
			}
			if !bytes.Equal(readFile(t, two), twoBytes) {
				t.Errorf("%s changed", two)
			}
		})
	}
}

// TestBuiltSkopeoReadsOcitarOutput reads archives ocitar copy writes, two
// images each (a docker-save image, whose docker schema 2 manifest the
// default output keeps, and an OCI one), with the built skopeo's
// oci-archive:FILE:NAME and docker-archive:FILE:NAME, and with Debian's
// skopeo 1.9.3 beside it: README's table of readers comes from here.
func TestBuiltSkopeoReadsOcitarOutput(t *testing.T) {
	const dockerName, ociName = "example.com/ocitar/sample:1", "example.com/test/one:1"
	docker := factsOf(t, ocitar, nil, "oci-tar:"+testdata("sample.docker.tar"))
	oci := factsOf(t, ocitar, nil, "oci-tar:"+testdata("peers/b-oci-one.skopeo.tar"))
	tests := []struct {
		form  string
		flags []string
		// docker1_9: Debian's skopeo 1.9.3 finds the docker-save image by name
		// (it looks names up among OCI manifests only); dockerArchive: the
		// file is a docker-archive: too (it has manifest.json).
		docker1_9, dockerArchive bool
	}{
		{form: "default", dockerArchive: true},
		{form: "--format oci", flags: []string{"--format", "oci"}, docker1_9: true, dockerArchive: true},
		{form: "--dest-oci-only", flags: []string{"--dest-oci-only"}, docker1_9: true, dockerArchive: false},
	}
	for _, tt := range tests {
		t.Run(tt.form, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.tar")
			for _, c := range [][2]string{{"sample.docker.tar", dockerName}, {"peers/b-oci-one.skopeo.tar", ociName}} {
				args := append(append([]string{"copy", "--insecure-policy", "-q"}, tt.flags...), "oci-tar:"+testdata(c[0]), "oci-tar:"+out+":"+c[1])
				run(t, ocitar, args...)
			}
			images := ls(t, out)
			if len(images) != 2 {
				t.Fatalf("ocitar ls %s: %+v, want two images", out, images)
			}
			dockerKept := images[0].MediaType == mediaTypeDocker
			if dockerKept != (tt.form == "default") {
				t.Errorf("ocitar ls %s: the docker-save image has a %s manifest", out, images[0].MediaType)
			}
			for i, c := range []struct {
				name string
				want imageFacts
			}{{dockerName, docker}, {ociName, oci}} {
				ref := "oci-archive:" + out + ":" + c.name
				got := factsOf(t, builtSkopeo(t), nil, ref)
				assertSameImage(t, "built skopeo, "+ref, got, c.want, false)
				if got.manifest != images[i].Digest {
					t.Errorf("built skopeo inspect --raw %s: manifest %s, want %s as stored", ref, got.manifest, images[i].Digest)
				}
				d := filepath.Join(t.TempDir(), "image")
				skCopy(t, nil, ref, "dir:"+d)
				config, diffIDs := readDirImage(t, d)
				assertSameImage(t, "built skopeo copy "+ref, imageFacts{config: config, diffIDs: diffIDs}, c.want, false)

				debian := command(t, nil, skopeo, "inspect", "--raw", ref)
				raw, err := debian.Output()
				found, want := err == nil && sha256Digest(raw) == images[i].Digest, i == 1 || tt.docker1_9
				if found != want {
					t.Errorf("%s: finds the image: %v (%v), want %v", commandLine(debian), found, err, want)
				}

				archiveRef := "docker-archive:" + out + ":" + c.name
				if tt.dockerArchive {
					got := factsOf(t, builtSkopeo(t), nil, archiveRef)
					assertSameImage(t, "built skopeo, "+archiveRef, got, c.want, false)
				} else {
					skFailing(t, "manifest.json", "inspect", archiveRef)
				}
			}
		})
	}
}
