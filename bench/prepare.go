package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// corpus is where the generated archives are.
type corpus struct {
	large, largeGzip   variants // the main image
	largeDir           string   // the main image as dir:, the source of writes
	scaleDir           string   // the image recompressed with one core and two, as dir:
	many               string   // OCI tar of the many-image archive
	mem                []memImage
	unpack             []unpackImage // generated layers, each kind at each of unpackScales
	unpackLarge        unpackImage   // the main image
	compressed         []compressedSet
	spool              string // the ocitar of today's spool, for the compressed rows
	largeDesc, mixDesc string
}

// variants are one image as an OCI layout tar and as a docker-save tar.
type variants struct{ oci, docker string }

type memImage struct {
	name string
	size int64 // of its layers
	oci  string
	dir  string
}

const (
	largeName = "example.com/bench/large:1"
	manyName  = "example.com/bench/many:0" // one image of the many-image archive
)

// prepare generates the corpus into c.work, reusing what an earlier run with
// the same parameters left there: the main image alone when -only selects
// the mirror group alone (config.mirrorOnly).
func prepare(c config) (corpus, error) {
	co, err := prepareLarge(c)
	if err == nil && !c.mirrorOnly() {
		co, err = prepareRest(c, co)
	}
	if err != nil {
		return co, err
	}
	return co, os.RemoveAll(filepath.Join(c.work, "layers"))
}

// prepareLarge generates the main image in its forms.
func prepareLarge(c config) (corpus, error) {
	w := c.work
	co := corpus{
		large:     variants{filepath.Join(w, "large.oci.tar"), filepath.Join(w, "large.docker.tar")},
		largeGzip: variants{filepath.Join(w, "large-gzip.oci.tar"), filepath.Join(w, "large-gzip.docker.tar")},
		largeDir:  filepath.Join(w, "large.dir"),
		largeDesc: fmt.Sprintf("%d MiB in %d layers, half text (gzip shrinks it about fourfold), half random", c.size>>20, len(mixed)),
	}
	large := imageSpec{name: largeName, size: c.size, contents: mixed, gzip: true}
	err := cached(w, "large", large, func() error {
		img, err := generate(w, large)
		if err != nil {
			return err
		}
		return firstError(
			func() error { return writeOCI(co.large.oci, false, img) },
			func() error { return writeDockerSave(co.large.docker, false, img) },
			func() error { return writeOCI(co.largeGzip.oci, true, img) },
			func() error { return writeDockerSave(co.largeGzip.docker, true, img) },
			func() error { return toDir(c, co.large.oci, co.largeDir) },
		)
	})
	return co, err
}

// prepareRest generates the rest of the corpus beside the main image of co.
func prepareRest(c config, co corpus) (corpus, error) {
	w := c.work
	co.scaleDir, co.many = filepath.Join(w, "scale.dir"), filepath.Join(w, "many.oci.tar")
	scale := imageSpec{name: "example.com/bench/scale:1", size: c.scaleSize, contents: mixed}
	err := cached(w, "scale", scale, func() error {
		return generateAsDir(c, scale, filepath.Join(w, "scale.oci.tar"), co.scaleDir)
	})
	if err != nil {
		return co, err
	}
	err = cached(w, "many", c.many, func() error { return writeOCI(co.many, false, manyImages(c.many)...) })
	if err != nil {
		return co, err
	}
	for _, size := range c.memSizes {
		m := memImage{name: fmt.Sprintf("example.com/bench/mem:%d", size>>20), size: size, oci: filepath.Join(w, fmt.Sprintf("mem-%d.oci.tar", size>>20)), dir: filepath.Join(w, fmt.Sprintf("mem-%d.dir", size>>20))}
		spec := imageSpec{name: m.name, size: size, contents: cheap}
		if err := cached(w, fmt.Sprintf("mem-%d", size>>20), spec, func() error { return generateAsDir(c, spec, m.oci, m.dir) }); err != nil {
			return co, err
		}
		co.mem = append(co.mem, m)
	}
	if co.unpack, co.unpackLarge, err = prepareUnpack(c, co.large.oci); err != nil {
		return co, err
	}
	main := memImage{name: largeName, size: c.size, oci: co.large.oci}
	largest := co.mem[0]
	for _, m := range co.mem {
		if m.size > largest.size {
			largest = m
		}
	}
	if co.compressed, err = prepareCompressed(c, main, largest); err != nil {
		return co, err
	}
	if co.spool, err = spoolBinary(c); err != nil {
		return co, err
	}
	co.mixDesc = fmt.Sprintf("%d MiB, the same mix", c.scaleSize>>20)
	return co, nil
}

// generateAsDir writes the image of spec as an OCI tar at oci and copies it to dir:DIR.
func generateAsDir(c config, spec imageSpec, oci, dir string) error {
	img, err := generate(c.work, spec)
	if err != nil {
		return err
	}
	if err := writeOCI(oci, false, img); err != nil {
		return err
	}
	return toDir(c, oci, dir)
}

func toDir(c config, oci, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	out, err := exec.Command(c.ocitar, "--insecure-policy", "copy", "-q", "oci-tar:"+oci, "dir:"+dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copying %s to dir:%s: %w: %s", oci, dir, err, out)
	}
	return nil
}

// cached runs make unless the stamp file of name says it ran with the same key.
func cached(work, name string, key any, make func() error) error {
	stamp := filepath.Join(work, name+".stamp")
	want := fmt.Sprintf("%+v\n", key)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return nil
	}
	logf("generating %s", name)
	os.Remove(stamp)
	if err := make(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return os.WriteFile(stamp, []byte(want), 0o644)
}

func firstError(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
