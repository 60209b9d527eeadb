package integration

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// unpackRow is an image for TestUnpackMatchesUmoci.
type unpackRow struct {
	file      string // under testdata/
	sel       string // selector of the image in the archive for ocitar
	reference string // transport skopeo reads the file with
	sample    bool   // the image is testimage.Sample, with its whiteouts
}

// TestUnpackMatchesUmoci unpacks every peer archive and the project's sample
// images, which hold whiteouts, an opaque directory, symlinks and hard links,
// with ocitar unpack, and checks that the tree is the one umoci unpack
// --rootless makes from the same image converted by skopeo: same paths,
// types, permissions, contents, symlink targets and hard links. Nothing is
// normalized: ocitar runs as root here but leaves owners alone as umoci
// --rootless does, and the tree comparison leaves owners and times out.
func TestUnpackMatchesUmoci(t *testing.T) {
	platform := []string{"--override-arch", "amd64", "--override-os", "linux"}
	tests := []unpackRow{
		{"sample.docker.tar", "", "docker-archive:", true},
		{"sample-multi.oci.tar", "example.com/ocitar/multi:1", "oci-archive:", true},
		{"peers/a-docker-2layer.skopeo.tar", "", "docker-archive:", false},
		{"peers/a-docker-2layer.crane-tarball.tar", "", "docker-archive:", false},
		{"peers/a-docker-2layer.docker20.tar", "", "docker-archive:", false},
		{"peers/b-oci-one.skopeo.tar", "", "oci-archive:", false},
		{"peers/c-oci-multi.skopeo.tar", "latest", "oci-archive:", false},
		{"peers/h-hello-world-docker25.ggcr-fixture.tar", "", "docker-archive:", false},
	}
	peerArchives, err := filepath.Glob(testdata("peers/*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range peerArchives {
		name := "peers/" + filepath.Base(path)
		if !slices.ContainsFunc(tests, func(row unpackRow) bool { return row.file == name }) {
			t.Errorf("%s has no row: add it with the reference skopeo reads it by", name)
		}
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			src, ref := "oci-tar:"+testdata(tt.file), tt.reference+testdata(tt.file)
			if tt.sel != "" {
				src += ":" + tt.sel
				ref += ":" + tt.sel
			}
			rootfs := filepath.Join(dir, "rootfs")
			run(t, ocitar, append(platform, "unpack", src, rootfs)...)

			layout, bundle := filepath.Join(dir, "layout"), filepath.Join(dir, "bundle")
			run(t, skopeo, append(append([]string{"--insecure-policy"}, platform...), "copy", "-q", ref, "oci:"+layout+":image")...)
			run(t, umoci, "unpack", "--rootless", "--image", layout+":image", bundle)
			umociAssertSameTree(t, rootfs, filepath.Join(bundle, "rootfs"))
			if tt.sample {
				umociAssertWhiteouts(t, rootfs)
			}
		})
	}
}

// whiteoutLayers are the layers of TestUnpackWhiteoutsMatchUmoci: in the
// lower one, a directory reached through an absolute and a relative symlink,
// a symlink that climbs out of the root, and a chain of 60 directories each
// holding a file and a directory; the upper one deletes and makes
// directories opaque through each symlink and deep in the chain.
func whiteoutLayers(t *testing.T) [][]byte {
	t.Helper()
	dir := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	file := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }
	symlink := func(name, target string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
	}
	lower := []tar.Header{
		dir("real/"), file("real/a"), file("real/b"), dir("real/o/"), file("real/o/old"), dir("real/o/sub/"), file("real/o/sub/old"),
		dir("real/p/"), file("real/p/old"),
		symlink("abs", "/real"), symlink("rel", "real"), dir("up/"), symlink("up/out", "../../.."), file("top"),
	}
	upper := []tar.Header{
		file("abs/.wh.a"), file("rel/o/.wh..wh..opq"), file("rel/o/new"),
		file("up/out/real/p/.wh..wh..opq"), file("up/out/.wh.top"), file("up/out/absent/.wh.x"),
	}
	chain := ""
	for depth := 1; depth <= 60; depth++ {
		chain += "c/"
		lower = append(lower, dir(chain), file(chain+"f"), dir(chain+"d/"), file(chain+"d/f"))
		switch depth {
		case 20:
			upper = append(upper, file(chain+".wh.d"))
		case 30:
			upper = append(upper, file(chain+".wh.f"), symlink(chain+"back", "/real"), file(chain+"back/.wh.b"))
		case 40:
			upper = append(upper, file(chain+".wh..wh..opq"), file(chain+"new"))
		}
	}
	var layers [][]byte
	for _, hdrs := range [][]tar.Header{lower, upper} {
		layer, err := testimage.Headers(hdrs...)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, layer)
	}
	return layers
}

// TestUnpackWhiteoutsMatchUmoci unpacks whiteoutLayers with ocitar unpack
// and umoci unpack --rootless, and checks that the trees are the same.
func TestUnpackWhiteoutsMatchUmoci(t *testing.T) {
	const name = "whiteouts"
	dir := t.TempDir()
	img := testimage.New(name, ocispec.Platform{OS: "linux", Architecture: "amd64"}, whiteoutLayers(t), ocispec.ImageConfig{})
	var buf bytes.Buffer
	if err := testimage.WriteOCILayout(&buf, testimage.OCIOptions{Gzip: true}, img); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "whiteouts.tar")
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	run(t, ocitar, "--insecure-policy", "unpack", "oci-tar:"+archive, rootfs)
	layout, bundle := filepath.Join(dir, "layout"), filepath.Join(dir, "bundle")
	umociUntar(t, archive, layout)
	run(t, umoci, "unpack", "--rootless", "--image", layout+":"+name, bundle)
	umociAssertSameTree(t, rootfs, filepath.Join(bundle, "rootfs"))
	for _, p := range []string{"real/o/new", "real/p", "c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/new"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{"real/a", "real/b", "real/o/old", "real/p/old", "top", "c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/c/d"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want it deleted", p, err)
		}
	}
}
