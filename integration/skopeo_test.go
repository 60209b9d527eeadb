package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rtName is the name the round trip stores images under.
const rtName = "example.com/rt/img:1"

// multiIndex is the digest of the index in testdata/peers/c-oci-multi.skopeo.tar.
const multiIndex = "sha256:dd6056b9671fa9fd0cbdbac28bc65098f194219160e823b95ee1408b7b5365f3"

// TestRoundTripThroughSkopeo writes every peer archive, and a generated image
// of layers larger than the chunks the writer copies them in, through oci-tar:
// and reads the result back with ocitar, with skopeo's oci-archive: and with
// skopeo's docker-archive: (the hybrid manifest.json makes the file one too).
func TestRoundTripThroughSkopeo(t *testing.T) {
	const twoLayer = "sha256:a79b09e671256f55a7250cefefa3b07630607b21346bc8ae7b3cb6e7f2e6fce9"
	const oneLayer = "sha256:2e4e1b16d4956d2c846dc02efca1088c689abdb6feb50e84b4814132ae96a838"
	genDir := t.TempDir()
	gen := goCommand("run", "./internal/testimage/gentestdata", "-large", "40", genDir) // 8 layers of 5 MiB
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gentestdata failed: %v\n  command: %s\n%s", err, commandLine(gen), out)
	}
	tests := []struct {
		file, sel string // file: in testdata/peers, or an absolute path
		config    string // "" for the config digest ocitar reads
		flags     []string
		// dockerManifest: the image keeps its docker schema 2 manifest (so its
		// digest is kept), and Debian 12's skopeo 1.9.3 looks names up only
		// among index.json entries of OCI media types, so skopeo reads it as
		// the archive's only image instead.
		dockerManifest bool
	}{
		{file: "a-docker-2layer.skopeo.tar", config: twoLayer, dockerManifest: true},
		{file: "a-docker-2layer.crane-tarball.tar", config: twoLayer, dockerManifest: true},
		{file: "a-docker-2layer.docker20.tar", config: twoLayer, dockerManifest: true},
		{file: "b-oci-one.skopeo.tar", config: oneLayer},
		{file: "c-oci-multi.skopeo.tar", sel: "latest", config: oneLayer, flags: []string{"--override-os", "linux", "--override-arch", "amd64"}},
		{file: "h-hello-world-docker25.ggcr-fixture.tar", config: "sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44", dockerManifest: true},
		{file: filepath.Join(genDir, "large.docker.tar"), dockerManifest: true},
		{file: filepath.Join(genDir, "large.oci.tar")},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.tar")
			path := tt.file
			if !filepath.IsAbs(path) {
				path = testdata("peers/" + path)
			}
			src := "oci-tar:" + path
			if tt.sel != "" {
				src += ":" + tt.sel
			}
			args := append([]string{"copy", "--insecure-policy", "-q"}, tt.flags...)
			run(t, ocitar, append(args, src, "oci-tar:"+out+":"+rtName)...)

			ociArchive := "oci-archive:" + out + ":" + rtName
			if tt.dockerManifest {
				ociArchive = "oci-archive:" + out
			}
			reads := []struct {
				peer peer
				src  string
			}{
				{ocitar, "oci-tar:" + out + ":" + rtName},
				{skopeo, ociArchive},
				{skopeo, "docker-archive:" + out},
			}
			var want []string
			wantConfig := tt.config
			for i, r := range reads {
				d := filepath.Join(dir, fmt.Sprintf("d%d", i+1))
				run(t, r.peer, "--insecure-policy", "copy", "-q", r.src, "dir:"+d)
				config, diffIDs := readDirImage(t, d)
				if wantConfig == "" {
					wantConfig = config
				}
				if config != wantConfig {
					t.Errorf("%s copy %s: config %s, want %s", r.peer, r.src, config, wantConfig)
				}
				if len(diffIDs) == 0 {
					t.Errorf("%s copy %s: the config lists no DiffIDs", r.peer, r.src)
				}
				if i == 0 {
					want = diffIDs
				} else if !slices.Equal(diffIDs, want) {
					t.Errorf("%s copy %s: DiffIDs %v, want %v as ocitar reads them", r.peer, r.src, diffIDs, want)
				}
			}
		})
	}
}

// readDirImage reads the image a dir: destination holds: its config digest,
// checked against the config's content, and the config's DiffIDs.
func readDirImage(t *testing.T, dir string) (string, []string) {
	t.Helper()
	var m struct {
		Config struct {
			Digest string `json:"digest"`
		} `json:"config"`
	}
	readJSON(t, filepath.Join(dir, "manifest.json"), &m)
	configPath := filepath.Join(dir, strings.TrimPrefix(m.Config.Digest, "sha256:"))
	if got := sha256Digest(readFile(t, configPath)); got != m.Config.Digest {
		t.Errorf("%s: config has digest %s, manifest says %s", dir, got, m.Config.Digest)
	}
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	readJSON(t, configPath, &config)
	return m.Config.Digest, config.RootFS.DiffIDs
}

// TestCopyAllKeepsIndexDigest copies a whole index into an archive and checks
// that ocitar and skopeo see the index under its original digest.
func TestCopyAllKeepsIndexDigest(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.tar")
	run(t, ocitar, "copy", "--insecure-policy", "-q", "--all", "--preserve-digests",
		"oci-tar:"+testdata("peers/c-oci-multi.skopeo.tar")+":latest", "oci-tar:"+out+":multi")

	images := ls(t, out)
	if len(images) != 1 {
		t.Fatalf("ocitar ls %s: %d images, want 1: %+v", out, len(images), images)
	}
	img := images[0]
	if img.Digest != multiIndex || !slices.Equal(img.Names, []string{"multi"}) ||
		!slices.Equal(img.Platforms, []string{"linux/amd64", "linux/arm64/v8"}) {
		t.Errorf("ocitar ls %s: %+v, want digest %s, names [multi], platforms linux/amd64 and linux/arm64/v8", out, img, multiIndex)
	}

	raw := run(t, skopeo, "inspect", "--raw", "oci-archive:"+out+":multi")
	if got := sha256Digest(raw); got != multiIndex {
		t.Errorf("skopeo inspect --raw oci-archive:%s:multi: digest %s, want %s\n%s", out, got, multiIndex, raw)
	}

	layout := filepath.Join(dir, "layout")
	run(t, skopeo, "--insecure-policy", "copy", "-q", "--all", "oci-archive:"+out+":multi", "oci:"+layout)
	var index struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	readJSON(t, filepath.Join(layout, "index.json"), &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != multiIndex {
		t.Errorf("skopeo copy --all to oci:%s: index.json lists %+v, want only %s", layout, index.Manifests, multiIndex)
	}
}

// TestTwoImagesInOneFile adds two images to one archive, one copy after the
// other, and saves several images into one archive in one run.
func TestTwoImagesInOneFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "two.tar")
	// --format oci converts the docker-save image to an OCI manifest, which
	// skopeo 1.9.3's oci-archive: can find by name (see TestRoundTripThroughSkopeo).
	run(t, ocitar, "copy", "--insecure-policy", "-q", "--format", "oci", "oci-tar:"+testdata("sample.docker.tar"), "oci-tar:"+out+":first")
	before := ls(t, out)
	run(t, ocitar, "copy", "--insecure-policy", "-q", "oci-tar:"+testdata("peers/b-oci-one.skopeo.tar"), "oci-tar:"+out+":second")
	source := ls(t, testdata("peers/b-oci-one.skopeo.tar"))

	images := ls(t, out)
	if len(before) != 1 || len(images) != 2 || len(source) != 1 {
		t.Fatalf("ocitar ls: %d images after the first copy, %d after the second, %d in the second source; want 1, 2, 1",
			len(before), len(images), len(source))
	}
	wantDigests := []string{before[0].Digest, source[0].Digest}
	for i, name := range []string{"first", "second"} {
		img := images[i]
		if img.Position != i || !slices.Equal(img.Names, []string{name}) || img.Digest != wantDigests[i] {
			t.Errorf("ocitar ls %s: image %d is %+v, want names [%s], digest %s", out, i, img, name, wantDigests[i])
		}
		raw := run(t, skopeo, "inspect", "--raw", "oci-archive:"+out+":"+name)
		if got := sha256Digest(raw); got != img.Digest {
			t.Errorf("skopeo inspect --raw oci-archive:%s:%s: digest %s, want %s", out, name, got, img.Digest)
		}
	}
	if images[0].Digest == images[1].Digest {
		t.Errorf("both images have manifest %s", images[0].Digest)
	}

	t.Run("save", func(t *testing.T) {
		tests := []struct {
			name    string
			flags   []string
			sources []string
			names   []string // of the saved images, in order
		}{
			{"sample and multi share a config", []string{"--all"}, []string{"sample.docker.tar", "sample-multi.oci.tar"},
				[]string{"example.com/ocitar/sample:1", "example.com/ocitar/multi:1"}},
			{"one image saved by two tools", nil, []string{"peers/a-docker-2layer.crane-tarball.tar", "peers/a-docker-2layer.docker20.tar"},
				[]string{"127.0.0.1:5001/test/two-layer:latest", "example.com/test/two-layer:latest"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "saved.tar")
				args := append([]string{"save", "--insecure-policy", "-q", "-o", out}, tt.flags...)
				for _, src := range tt.sources {
					args = append(args, "oci-tar:"+testdata(src))
				}
				run(t, ocitar, args...)
				images := ls(t, out)
				if len(images) != len(tt.sources) {
					t.Fatalf("ocitar ls %s: %+v, want %d images", out, images, len(tt.sources))
				}
				for i, img := range images {
					if want := ls(t, testdata(tt.sources[i]))[0].Digest; img.Digest != want {
						t.Errorf("ocitar ls %s: image %d has digest %s, want %s as in %s", out, i, img.Digest, want, tt.sources[i])
					}
					if !slices.Equal(img.Names, tt.names[i:i+1]) {
						t.Errorf("ocitar ls %s: image %d is named %v, want [%s]", out, i, img.Names, tt.names[i])
					}
				}
				if names := refNames(t, out); !slices.Equal(names, tt.names) {
					t.Errorf("%s: index.json names the images %q, want %q", out, names, tt.names)
				}
				assertBlobsOnce(t, out, images)
			})
		}
	})
}

// refNames are the org.opencontainers.image.ref.name annotations of the
// entries of index.json in the archive at path.
func refNames(t *testing.T, path string) []string {
	t.Helper()
	for _, e := range readTar(t, path) {
		if e.name != "index.json" {
			continue
		}
		var index struct {
			Manifests []struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal(e.data, &index); err != nil {
			t.Fatalf("%s: index.json: %v", path, err)
		}
		names := []string{}
		for _, m := range index.Manifests {
			names = append(names, m.Annotations["org.opencontainers.image.ref.name"])
		}
		return names
	}
	t.Fatalf("%s has no index.json", path)
	return nil
}

// assertBlobsOnce checks that the archive at path stores every blob its
// images reference exactly once, nothing else, and that the images share at
// least one blob.
func assertBlobsOnce(t *testing.T, path string, images []lsImage) {
	t.Helper()
	blobs := map[string][]byte{}
	for _, e := range readTar(t, path) {
		hex, ok := strings.CutPrefix(e.name, "blobs/sha256/")
		if !ok || hex == "" {
			continue
		}
		if _, dup := blobs["sha256:"+hex]; dup {
			t.Errorf("%s: blob %s is stored twice", path, hex)
		}
		blobs["sha256:"+hex] = e.data
	}
	refs := make([]map[string]bool, len(images))
	all := map[string]bool{}
	for i, img := range images {
		refs[i] = map[string]bool{}
		referencedBlobs(t, blobs, img.Digest, refs[i])
		for d := range refs[i] {
			all[d] = true
		}
	}
	for d, data := range blobs {
		if !all[d] {
			t.Errorf("%s: blob %s is referenced by no image", path, d)
		}
		if got := sha256Digest(data); got != d {
			t.Errorf("%s: blob %s holds %s", path, d, got)
		}
	}
	shared := 0
	for d := range refs[0] {
		if refs[1][d] {
			shared++
		}
	}
	if shared == 0 {
		t.Errorf("%s: the images share no blob", path)
	}
}

// referencedBlobs adds d and every blob it references, through indexes and
// manifests, to refs. A blob missing from blobs fails the test.
func referencedBlobs(t *testing.T, blobs map[string][]byte, d string, refs map[string]bool) {
	t.Helper()
	data, ok := blobs[d]
	if !ok {
		t.Errorf("blob %s is referenced but not stored", d)
		return
	}
	refs[d] = true
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	}
	var m struct {
		Manifests []descriptor `json:"manifests"`
		Config    *descriptor  `json:"config"`
		Layers    []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Errorf("manifest %s: %v", d, err)
		return
	}
	for _, child := range m.Manifests {
		referencedBlobs(t, blobs, child.Digest, refs)
	}
	if m.Config != nil {
		if _, ok := blobs[m.Config.Digest]; !ok {
			t.Errorf("config %s of %s is not stored", m.Config.Digest, d)
		}
		refs[m.Config.Digest] = true
	}
	for _, l := range m.Layers {
		if _, ok := blobs[l.Digest]; !ok {
			t.Errorf("layer %s of %s is not stored", l.Digest, d)
		}
		refs[l.Digest] = true
	}
}
