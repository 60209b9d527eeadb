package integration

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The archives crane and regctl export from a registry, read by oci-tar:.
// Both tests start `crane registry serve` on 127.0.0.1, push the project's
// samples into it with ocitar, export them with the peer, and check that
// ocitar lists the one image each archive holds and copies out, for every
// platform, the config and DiffIDs of the image that was pushed.

// Platforms of the samples, as ocitar ls prints them.
const (
	cranePlatformAMD64 = "linux/amd64"
	cranePlatformARM64 = "linux/arm64/v8"
)

// Override flags that choose one platform of an index.
var (
	craneAMD64 = []string{"--override-os", "linux", "--override-arch", "amd64"}
	craneARM64 = []string{"--override-os", "linux", "--override-arch", "arm64"}
)

// craneSource is one image of testdata, pushed to the registry as repo.
type craneSource struct {
	file, repo string
	flags      []string // ocitar copy flags for the push
}

var (
	craneSample = craneSource{file: "sample.docker.tar", repo: "t/sample:1"}
	craneMulti  = craneSource{file: "sample-multi.oci.tar", repo: "t/multi:1", flags: []string{"--all"}}
)

// craneCheck is one copy out of an exported archive: flags choose the
// platform, and the result must be the image that the same flags copy out of
// the pushed source.
type craneCheck struct {
	flags []string
}

// craneExport is one archive a peer exports from the registry, and what
// ocitar must see in it.
type craneExport struct {
	name   string
	peer   peer
	source craneSource
	// export writes the archive of the image ref (HOST/REPO:TAG) to out.
	export func(t *testing.T, r *craneRegistry, ref, out string)
	// names are the names ocitar ls gives the image, as a set; {{ref}} and
	// {{digest}} stand for the reference and the manifest digest the registry serves.
	names []string
	// platform, if set, is the one platform exported: the registry's digest
	// is that of its manifest for it.
	platform  string
	platforms []string // ocitar ls
	digest    craneDigestFrom
	checks    []craneCheck
}

// craneDigestFrom says which digest ocitar ls must give an exported image.
type craneDigestFrom int

const (
	// craneDigestRegistry: the digest of the manifest the registry serves,
	// which the archive stores.
	craneDigestRegistry craneDigestFrom = iota
	// craneDigestSynthesized: the archive is a docker save of the pushed
	// source, itself a docker save; neither stores a manifest, and ocitar
	// must make up the same one for both.
	craneDigestSynthesized
	// craneDigestUnchecked: a docker save with no docker save of the same
	// image to compare with.
	craneDigestUnchecked
)

// TestCraneArchives reads the archives crane pull writes: docker save with
// gzip layers (tarball), the legacy docker save, and an OCI layout directory,
// which the test tars.
func TestCraneArchives(t *testing.T) {
	cranePull := func(format string, flags ...string) func(*testing.T, *craneRegistry, string, string) {
		return func(t *testing.T, r *craneRegistry, ref, out string) {
			t.Helper()
			args := append([]string{"pull", "--insecure", "--format=" + format}, flags...)
			if format != "oci" {
				runEnv(t, r.env, crane, append(args, ref, out)...)
				return
			}
			layout := filepath.Join(t.TempDir(), "layout")
			runEnv(t, r.env, crane, append(args, ref, layout)...)
			craneTarDir(t, layout, out)
		}
	}
	craneExportsRead(t, []craneExport{
		{name: "tarball", peer: crane, source: craneSample, export: cranePull("tarball"),
			names: []string{"{{ref}}"}, platforms: []string{cranePlatformAMD64}, digest: craneDigestSynthesized,
			checks: []craneCheck{{}}},
		{name: "legacy", peer: crane, source: craneSample, export: cranePull("legacy"),
			names: []string{"{{ref}}"}, platforms: []string{cranePlatformAMD64}, digest: craneDigestSynthesized,
			checks: []craneCheck{{}}},
		{name: "oci", peer: crane, source: craneSample, export: cranePull("oci"),
			names: nil, platforms: []string{cranePlatformAMD64},
			checks: []craneCheck{{}}},
		{name: "oci multi", peer: crane, source: craneMulti, export: cranePull("oci"),
			names: nil, platforms: []string{cranePlatformAMD64, cranePlatformARM64},
			checks: []craneCheck{{craneAMD64}, {craneARM64}}},
		{name: "tarball multi arm64", peer: crane, source: craneMulti, export: cranePull("tarball", "--platform", "linux/arm64"),
			names: []string{"{{ref}}"}, platforms: []string{cranePlatformARM64}, digest: craneDigestUnchecked,
			checks: []craneCheck{{craneARM64}}},
	})
}

// TestRegctlArchives reads the archives regctl image export writes: an OCI
// layout plus docker's manifest.json for an image, the OCI layout of the
// whole index for a multi-platform image, and one platform of it.
func TestRegctlArchives(t *testing.T) {
	regctlExport := func(flags ...string) func(*testing.T, *craneRegistry, string, string) {
		return func(t *testing.T, r *craneRegistry, ref, out string) {
			t.Helper()
			args := append([]string{"image", "export", "--host", "reg=" + r.host + ",tls=disabled"}, flags...)
			runEnv(t, r.env, regctl, append(args, ref, out)...)
		}
	}
	craneExportsRead(t, []craneExport{
		{name: "sample", peer: regctl, source: craneSample, export: regctlExport(),
			names: []string{"1", "{{ref}}"}, platforms: []string{cranePlatformAMD64},
			checks: []craneCheck{{}}},
		{name: "multi", peer: regctl, source: craneMulti, export: regctlExport(),
			names: []string{"1", "{{ref}}"}, platforms: []string{cranePlatformAMD64, cranePlatformARM64},
			checks: []craneCheck{{craneAMD64}, {craneARM64}}},
		{name: "multi arm64", peer: regctl, source: craneMulti, export: regctlExport("--platform", "linux/arm64"),
			names: []string{"1", "{{ref}}", "{{ref}}@{{digest}}"}, platform: "linux/arm64",
			platforms: []string{cranePlatformARM64},
			checks:    []craneCheck{{craneARM64}}},
	})
}

// craneExportsRead starts a registry, pushes the sources, and checks what
// ocitar reads in each export.
func craneExportsRead(t *testing.T, exports []craneExport) {
	t.Helper()
	r := craneRegistryStart(t)
	for _, src := range []craneSource{craneSample, craneMulti} {
		args := append([]string{"copy", "--insecure-policy", "-q", "--dest-tls-verify=false"}, src.flags...)
		run(t, ocitar, append(args, "oci-tar:"+testdata(src.file), "docker://"+r.host+"/"+src.repo)...)
	}
	want := map[string]craneImage{} // by source file and flags
	wantImage := func(t *testing.T, src craneSource, flags []string) craneImage {
		t.Helper()
		key := src.file + " " + strings.Join(flags, " ")
		if img, ok := want[key]; ok {
			return img
		}
		img := craneCopyOut(t, flags, "oci-tar:"+testdata(src.file))
		want[key] = img
		return img
	}

	for _, e := range exports {
		t.Run(e.name, func(t *testing.T) {
			ref := r.host + "/" + e.source.repo
			out := filepath.Join(t.TempDir(), "export.tar")
			e.export(t, r, ref, out)

			images := ls(t, out)
			if len(images) != 1 {
				t.Fatalf("ocitar ls --json %s (%s export of %s): %d images, want 1: %+v", out, e.peer, ref, len(images), images)
			}
			img := images[0]
			var digest, digestFrom string
			switch e.digest {
			case craneDigestRegistry:
				digest, digestFrom = r.digest(t, ref, e.platform), "the registry's"
			case craneDigestSynthesized:
				digest, digestFrom = ls(t, testdata(e.source.file))[0].Digest, "the one ocitar lists for "+e.source.file
			}
			var names []string
			for _, n := range e.names {
				names = append(names, strings.NewReplacer("{{ref}}", ref, "{{digest}}", digest).Replace(n))
			}
			if !craneSameSet(img.Names, names) {
				t.Errorf("ocitar ls --json %s (%s export of %s): names %q, want %q", out, e.peer, ref, img.Names, names)
			}
			if !slices.Equal(img.Platforms, e.platforms) {
				t.Errorf("ocitar ls --json %s (%s export of %s): platforms %q, want %q", out, e.peer, ref, img.Platforms, e.platforms)
			}
			if digest != "" && img.Digest != digest {
				t.Errorf("ocitar ls --json %s (%s export of %s): digest %s, want %s, %s", out, e.peer, ref, img.Digest, digest, digestFrom)
			}

			for _, c := range e.checks {
				got := craneCopyOut(t, c.flags, "oci-tar:"+out)
				w := wantImage(t, e.source, c.flags)
				if got.config != w.config || !slices.Equal(got.diffIDs, w.diffIDs) {
					t.Errorf("ocitar copy %s oci-tar:%s dir: (%s export of %s): config %s, DiffIDs %v; want config %s, DiffIDs %v, as from %s",
						strings.Join(c.flags, " "), out, e.peer, ref, got.config, got.diffIDs, w.config, w.diffIDs, e.source.file)
				}
			}
		})
	}
}

// craneImage is an image as a dir: destination holds it.
type craneImage struct {
	config  string
	diffIDs []string
}

// craneCopyOut copies src (flags choose the platform) to a new dir: with
// ocitar and returns its config digest, checked against the config's content,
// and the config's DiffIDs.
func craneCopyOut(t *testing.T, flags []string, src string) craneImage {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dir")
	args := append(append([]string{"copy", "--insecure-policy", "-q"}, flags...), src, "dir:"+dir)
	run(t, ocitar, args...)
	config, diffIDs := readDirImage(t, dir)
	if len(diffIDs) == 0 {
		t.Errorf("ocitar copy %s %s dir:%s: the config lists no DiffIDs", strings.Join(flags, " "), src, dir)
	}
	return craneImage{config: config, diffIDs: diffIDs}
}

// craneSameSet reports whether a and b hold the same strings, in any order.
func craneSameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// craneTarDir writes the tree under dir to a new tar at out, names relative to dir.
func craneTarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatalf("tarring %s into %s: %v", dir, out, err)
	}
}

// craneRegistry is a `crane registry serve` started by a test.
type craneRegistry struct {
	host string   // 127.0.0.1:PORT
	env  []string // for crane and regctl: HOME is a temporary directory
	*server
}

// craneRegistryStart starts `crane registry serve` on a free port of
// 127.0.0.1, storing blobs in a temporary directory, and waits until /v2/
// answers 200. It is killed, by its PID, when t ends.
func craneRegistryStart(t *testing.T) *craneRegistry {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	disk := filepath.Join(dir, "disk") // crane needs it to exist
	for _, d := range []string{home, disk} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r := &craneRegistry{
		host: freeAddr(t),
		env:  []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker")},
	}
	r.server = startServer(t, dir, r.env, crane, "registry", "serve", "--address", r.host, "--disk", disk)
	r.waitHTTP(t, "http://"+r.host+"/v2/")
	return r
}

// digest is the digest of the manifest (or index) the registry serves for
// ref; platform, if set, picks its manifest for that platform.
func (r *craneRegistry) digest(t *testing.T, ref, platform string) string {
	t.Helper()
	args := []string{"digest", "--insecure"}
	if platform != "" {
		args = append(args, "--platform", platform)
	}
	out := strings.TrimSpace(string(runEnv(t, r.env, crane, append(args, ref)...)))
	if !strings.HasPrefix(out, "sha256:") {
		t.Fatalf("%s %s: %q is no digest", crane, strings.Join(append(args, ref), " "), out)
	}
	return out
}
