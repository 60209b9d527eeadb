package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// unpackScales are the multiples of each generated unpack layer measured, to
// show that doubling the entries at most doubles the time.
var unpackScales = []int{1, 2, 4}

// unpackImage is an image for the unpack groups: an OCI tar (ocitar unpack's
// input) and the same layout untarred (umoci's input), whose layer blobs
// tar -x extracts in order.
type unpackImage struct {
	label  string // kind and scale, "files 2x"
	title  string // what the image holds
	oci    string
	layout string
	layers []string // uncompressed layer blobs under layout, base first
}

// unpackKind generates the layers of one kind of unpack image at a scale.
type unpackKind struct {
	name   string
	title  func(scale int) string
	layers func(scale int, t *tar.Writer, layer int) error
	count  int // layers
}

// unpackKinds are the generated unpack images of issue 15.
func unpackKinds(smoke bool) []unpackKind {
	div := 1
	if smoke {
		div = 100
	}
	files, dirs, depth, perLevel := 200_000/div, 50_000/div, 200/div, 10
	return []unpackKind{
		{name: "files", count: 1,
			title: func(s int) string { return fmt.Sprintf("%d empty files", s*files) },
			layers: func(s int, t *tar.Writer, _ int) error {
				for i := range s * files {
					if i%1000 == 0 {
						if err := t.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%04d/", i/1000), Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
							return err
						}
					}
					if err := t.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%04d/f%07d", i/1000, i), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "whiteouts", count: 2,
			title: func(s int) string {
				return fmt.Sprintf("%d directories, then a layer of %d whiteouts deleting them", s*dirs, s*dirs)
			},
			layers: func(s int, t *tar.Writer, layer int) error {
				for i := range s * dirs {
					hdr := &tar.Header{Name: fmt.Sprintf("w/d%07d/", i), Typeflag: tar.TypeDir, Mode: 0o755}
					if layer == 1 {
						hdr = &tar.Header{Name: fmt.Sprintf("w/.wh.d%07d", i), Typeflag: tar.TypeReg}
					}
					if err := t.WriteHeader(hdr); err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "deep", count: 1,
			title: func(s int) string {
				return fmt.Sprintf("a %d-deep chain of directories with %d files", s*depth, s*depth*perLevel)
			},
			layers: func(s int, t *tar.Writer, _ int) error {
				dir := ""
				for range s * depth {
					dir += "c/"
					if err := t.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
						return err
					}
					for f := range perLevel {
						if err := t.WriteHeader(&tar.Header{Name: fmt.Sprintf("%sf%d", dir, f), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
							return err
						}
					}
				}
				return nil
			}},
	}
}

// prepareUnpack generates every unpack image, and the layout of the large
// image for umoci and tar -x.
func prepareUnpack(c config, large string) ([]unpackImage, unpackImage, error) {
	var images []unpackImage
	for _, k := range unpackKinds(c.smoke) {
		for _, s := range unpackScales {
			img, err := generateUnpack(c, k, s)
			if err != nil {
				return nil, unpackImage{}, err
			}
			images = append(images, img)
		}
	}
	layout := filepath.Join(c.work, "unpack-large.layout")
	img := unpackImage{label: "large", title: "the main image", oci: large, layout: layout}
	err := cached(c.work, "unpack-large", c.size, func() error { return untar(large, layout) })
	if err != nil {
		return nil, img, err
	}
	img.layers, err = layoutLayers(layout)
	return images, img, err
}

// generateUnpack writes the image of kind k at scale s, as an OCI tar and as
// a layout directory.
func generateUnpack(c config, k unpackKind, s int) (unpackImage, error) {
	name := fmt.Sprintf("unpack-%s-%dx", k.name, s)
	img := unpackImage{label: fmt.Sprintf("%s %dx", k.name, s), title: k.title(s), oci: filepath.Join(c.work, name+".oci.tar"), layout: filepath.Join(c.work, name+".layout")}
	err := cached(c.work, name, img.title, func() error {
		ci := corpusImage{name: name}
		for l := range k.count {
			path := filepath.Join(c.work, "layers", fmt.Sprintf("%s-%d.tar", name, l))
			b, err := writeBlobFile(path, ocispec.MediaTypeImageLayer, func(w io.Writer) error {
				t := tar.NewWriter(w)
				if err := k.layers(s, t, l); err != nil {
					return err
				}
				return t.Close()
			})
			if err != nil {
				return err
			}
			ci.layers = append(ci.layers, b)
		}
		ci.config = configBlob(ci.layers)
		if err := writeOCI(img.oci, false, ci); err != nil {
			return err
		}
		return untar(img.oci, img.layout)
	})
	if err != nil {
		return img, err
	}
	img.layers, err = layoutLayers(img.layout)
	return img, err
}

// untar extracts the OCI tar src into a new directory dst.
func untar(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("tar", "-xf", src, "-C", dst).CombinedOutput(); err != nil {
		return fmt.Errorf("tar -xf %s: %w: %s", src, err, out)
	}
	return nil
}

// layoutLayers are the layer blobs of the only image of an OCI layout, base first.
func layoutLayers(layout string) ([]string, error) {
	var index ocispec.Index
	var m ocispec.Manifest
	if err := readJSONFile(filepath.Join(layout, "index.json"), &index); err != nil {
		return nil, err
	}
	if len(index.Manifests) != 1 {
		return nil, fmt.Errorf("%s: %d images, want 1", layout, len(index.Manifests))
	}
	if err := readJSONFile(blobPath(layout, index.Manifests[0]), &m); err != nil {
		return nil, err
	}
	var paths []string
	for _, l := range m.Layers {
		paths = append(paths, blobPath(layout, l))
	}
	return paths, nil
}

func blobPath(layout string, d ocispec.Descriptor) string {
	return filepath.Join(layout, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())
}

// unpackGroups measure ocitar unpack beside GNU tar -x of the same layers
// in order and umoci unpack --rootless, each into an empty directory. umoci
// runs at scale 1 only: it is the slowest, and its target is set there.
func unpackGroups(c config, images []unpackImage, large unpackImage) []group {
	out := filepath.Join(c.work, "out")
	var gs []group
	for _, img := range append(images, large) {
		cmds := []command{
			{name: "ocitar unpack", argv: []string{c.ocitar, "--insecure-policy", "--tmpdir", tmpDirArg, "unpack", "oci-tar:" + img.oci, out + "/rootfs"}},
			{name: "tar -x", argv: append([]string{"sh", "-c", `mkdir "$1" && cd "$1" && shift && for l; do tar -xf "$l" || exit 1; done`, "sh", out + "/rootfs"}, img.layers...)},
		}
		if img.label == large.label || strings.HasSuffix(img.label, " 1x") {
			tag := strings.TrimSuffix(filepath.Base(img.oci), ".oci.tar")
			if img.label == large.label {
				tag = largeName
			}
			cmds = append(cmds, command{name: "umoci unpack --rootless", argv: []string{"umoci", "unpack", "--rootless", "--image", img.layout + ":" + tag, out + "/bundle"}})
		}
		gs = append(gs, group{title: unpackTitle(img.label) + ": " + img.title, base: "tar -x", cmds: cmds, freshFS: true})
	}
	return gs
}

func readJSONFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// unpackTitle starts the title of the unpack group of the image labelled label.
func unpackTitle(label string) string { return "unpack " + label }

// unpackTargets are issue 15's: ocitar unpack within 1.5x of tar -x and
// faster than umoci on each image, and doubling the entries of a generated
// layer at most doubling the time.
func unpackTargets(c config, find func(title, name string) *stats, atMost func(name string, got, limit float64, unit string)) {
	for _, label := range []string{"files 1x", "whiteouts 1x", "deep 1x", "large"} {
		ours := find(unpackTitle(label), "ocitar unpack")
		atMost("unpack "+label+": within 1.5x of tar -x", ratio(ours.wall, find(unpackTitle(label), "tar -x").wall), 1.5, "x")
		atMost("unpack "+label+": faster than umoci unpack --rootless", ratio(ours.wall, find(unpackTitle(label), "umoci unpack --rootless").wall), 1, "x")
	}
	for _, k := range unpackKinds(c.smoke) {
		for i := 1; i < len(unpackScales); i++ {
			lo, hi := fmt.Sprintf("%s %dx", k.name, unpackScales[i-1]), fmt.Sprintf("%s %dx", k.name, unpackScales[i])
			atMost(fmt.Sprintf("unpack %s: twice the entries (%s -> %s) at most twice the time", k.name, lo, hi),
				ratio(find(unpackTitle(hi), "ocitar unpack").wall, find(unpackTitle(lo), "ocitar unpack").wall), 2, "x")
		}
	}
}
