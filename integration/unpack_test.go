package integration

import (
	"path/filepath"
	"slices"
	"testing"
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
