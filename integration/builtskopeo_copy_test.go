//go:build skopeo

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// skopeoTransport is a transport the built skopeo copies to from oci-tar: and back.
type skopeoTransport struct {
	name string
	// ref is a new reference of the transport; check, when set, checks the
	// image it holds with that transport's own tool.
	ref   func(t *testing.T) (ref string, check func(t *testing.T, want imageFacts))
	keeps map[string]bool // the media types whose manifests a copy to it keeps
	// writes is the media type of the manifest it writes when it does not keep it.
	writes string
	// uncompressed: it gives its layers uncompressed, so a copy from it
	// writes a manifest that lists the DiffIDs, not the one it holds.
	uncompressed bool
}

// skopeoTransports are the transports of TestBuiltSkopeoCopy; reg is the
// registry of docker://.
func skopeoTransports(reg *registryServer) []skopeoTransport {
	const name = "example.com/test/img:1"
	both := map[string]bool{mediaTypeOCI: true, mediaTypeDocker: true}
	ociOnly := map[string]bool{mediaTypeOCI: true}
	newFile := func(prefix, suffix string) func(t *testing.T) (string, func(*testing.T, imageFacts)) {
		return func(t *testing.T) (string, func(*testing.T, imageFacts)) {
			return prefix + filepath.Join(t.TempDir(), "image") + suffix, nil
		}
	}
	tag := 0
	return []skopeoTransport{
		// docker-archive: writes docker schema 2 with gzip layers, whatever it gets.
		{name: "docker-archive", ref: newFile("docker-archive:", ".tar:"+name), keeps: map[string]bool{}, writes: mediaTypeDocker},
		{name: "oci-archive", ref: newFile("oci-archive:", ".tar:"+name), keeps: ociOnly, writes: mediaTypeOCI},
		{name: "dir", ref: newFile("dir:", ""), keeps: both},
		{name: "oci", ref: newFile("oci:", ":"+name), keeps: ociOnly, writes: mediaTypeOCI},
		{name: "containers-storage", keeps: both, uncompressed: true,
			ref: func(t *testing.T) (string, func(*testing.T, imageFacts)) {
				store := storageNew(t)
				return store.ref(name), func(t *testing.T, want imageFacts) {
					img := store.inspect(t, name)
					if "sha256:"+img.ID != want.config || !slices.Equal(img.RootFS.Layers, want.diffIDs) {
						t.Errorf("podman image inspect %s: ID %s, layers %v; want ID %s, layers %v", name, img.ID, img.RootFS.Layers, want.config, want.diffIDs)
					}
				}
			}},
		// A registry gets uncompressed layers compressed.
		{name: "docker", keeps: ociOnly, writes: mediaTypeDocker,
			ref: func(t *testing.T) (string, func(*testing.T, imageFacts)) {
				tag++
				return reg.ref(fmt.Sprintf("test/img:%d", tag)), nil
			}},
	}
}

// TestBuiltSkopeoCopy copies a docker-save image (its layers uncompressed)
// and an OCI image (gzip layers) with the built skopeo from oci-tar: to each
// transport, and from there back into oci-tar:. The image keeps its config
// and DiffIDs all the way, and its manifest wherever the transport keeps
// manifests of its type; the archive written at the end holds the manifest
// the transport served, and layers that uncompress to the DiffIDs.
func TestBuiltSkopeoCopy(t *testing.T) {
	reg := registryStart(t)
	sources := []string{"sample.docker.tar", "peers/b-oci-one.skopeo.tar"}
	for _, tr := range skopeoTransports(reg) {
		for _, file := range sources {
			t.Run(tr.name+"/"+filepath.Base(file), func(t *testing.T) {
				src := "oci-tar:" + testdata(file)
				want := factsOf(t, ocitar, nil, src)
				ref, check := tr.ref(t)
				skCopy(t, nil, src, ref)
				got := factsOf(t, builtSkopeo(t), nil, ref)
				keeps := tr.keeps[want.mediaType]
				assertSameImage(t, "skopeo copy "+src+" "+ref, got, want, keeps)
				if !keeps && got.mediaType != tr.writes {
					t.Errorf("skopeo copy %s %s: a %s manifest, want %s", src, ref, got.mediaType, tr.writes)
				}
				if check != nil {
					check(t, want)
				}

				back := filepath.Join(t.TempDir(), "back.tar")
				skCopy(t, nil, ref, "oci-tar:"+back+":back")
				stored, _ := archiveImage(t, back, "back")
				assertSameImage(t, "skopeo copy "+ref+" oci-tar:"+back+":back", stored, want, false)
				switch {
				case tr.uncompressed && !slices.Equal(stored.layers, want.diffIDs):
					t.Errorf("%s: layers %v from %s, want them uncompressed, %v", back, stored.layers, ref, want.diffIDs)
				case !tr.uncompressed && stored.manifest != got.manifest:
					t.Errorf("%s: manifest %s, want %s as %s serves it", back, stored.manifest, got.manifest, ref)
				}
			})
		}
	}
}

// TestBuiltSkopeoCopyOptions copies with skopeo's options into oci-tar: (and
// into a registry, where --preserve-digests changes what is written).
func TestBuiltSkopeoCopyOptions(t *testing.T) {
	reg := registryStart(t)
	dockerSave := "oci-tar:" + testdata("sample.docker.tar")
	oci := "oci-tar:" + testdata("peers/b-oci-one.skopeo.tar")
	signed := filepath.Join(t.TempDir(), "signed")
	skCopy(t, nil, oci, "dir:"+signed)
	if err := os.WriteFile(filepath.Join(signed, "signature-1"), []byte("\x00simple-signing\nunverified"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		flags     []string
		src       string
		registry  bool   // the destination is the registry, not an archive
		same      bool   // the manifest is the source's
		mediaType string // when not the same: the manifest's type
		layers    string // the compression of every layer; "" for the source's
	}{
		{name: "--format oci", flags: []string{"--format", "oci"}, src: dockerSave, mediaType: mediaTypeOCI, layers: "none"},
		{name: "--format v2s2", flags: []string{"--format", "v2s2"}, src: oci, mediaType: mediaTypeDocker, layers: "gzip"},
		{name: "--dest-compress-format gzip", flags: []string{"--dest-compress-format", "gzip"}, src: dockerSave, mediaType: mediaTypeDocker, layers: "gzip"},
		// docker schema 2 cannot list zstd layers: the copy writes an OCI manifest.
		{name: "--dest-compress-format zstd", flags: []string{"--dest-compress-format", "zstd"}, src: dockerSave, mediaType: mediaTypeOCI, layers: "zstd"},
		{name: "--dest-compress-format zstd, gzip source", flags: []string{"--dest-compress-format", "zstd"}, src: oci, mediaType: mediaTypeOCI, layers: "zstd"},
		{name: "--dest-compress", flags: []string{"--dest-compress"}, src: dockerSave, mediaType: mediaTypeDocker, layers: "gzip"},
		{name: "no option", src: dockerSave, same: true, layers: "none"},
		{name: "--preserve-digests", flags: []string{"--preserve-digests"}, src: oci, same: true, layers: "gzip"},
		{name: "--remove-signatures", flags: []string{"--remove-signatures"}, src: "dir:" + signed, same: true, layers: "gzip"},
		{name: "registry", src: dockerSave, registry: true, mediaType: mediaTypeDocker},
		{name: "registry --preserve-digests", flags: []string{"--preserve-digests"}, src: dockerSave, registry: true, same: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := factsOf(t, builtSkopeo(t), nil, tt.src)
			var got imageFacts
			if tt.registry {
				dst := reg.ref(fmt.Sprintf("test/options:%d", i))
				skCopy(t, tt.flags, tt.src, dst)
				got = factsOf(t, builtSkopeo(t), nil, dst)
			} else {
				out := filepath.Join(t.TempDir(), "out.tar")
				skCopy(t, tt.flags, tt.src, "oci-tar:"+out+":name")
				var formats []string
				got, formats = archiveImage(t, out, "name")
				if tt.layers != "" && slices.ContainsFunc(formats, func(f string) bool { return f != tt.layers }) {
					t.Errorf("%s: layers %v, want %s", out, formats, tt.layers)
				}
			}
			assertSameImage(t, "skopeo copy "+strings.Join(tt.flags, " "), got, want, tt.same)
			if !tt.same && (got.manifest == want.manifest || got.mediaType != tt.mediaType) {
				t.Errorf("skopeo copy %s: manifest %s (%s), want a new %s one", strings.Join(tt.flags, " "), got.manifest, got.mediaType, tt.mediaType)
			}
		})
	}
}

// TestBuiltSkopeoCopyAll copies multi-platform indexes with --all to
// oci-tar:, to an OCI layout and to a registry and back: the index keeps its
// digest and platforms everywhere. Without --all, one platform is copied.
func TestBuiltSkopeoCopyAll(t *testing.T) {
	reg := registryStart(t)
	platforms := []string{"linux/amd64", "linux/arm64/v8"}
	tests := []struct {
		file, sel, index string
	}{
		{"sample-multi.oci.tar", "", "sha256:556360957187cae737f0acc140bfeecd329e632bb8679c5cd0f71dd6ed0eb094"},
		{"peers/c-oci-multi.skopeo.tar", "latest", multiIndex},
	}
	for i, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			src := "oci-tar:" + testdata(tt.file)
			if tt.sel != "" {
				src += ":" + tt.sel
			}
			dir := t.TempDir()
			via := []string{
				"oci-tar:" + filepath.Join(dir, "direct.tar") + ":multi",
				"oci:" + filepath.Join(dir, "layout") + ":multi",
				reg.ref(fmt.Sprintf("test/multi:%d", i)),
			}
			for j, ref := range via {
				skCopy(t, []string{"--all"}, src, ref)
				if raw := sk(t, "inspect", "--raw", "--tls-verify=false", ref); sha256Digest(raw) != tt.index {
					t.Errorf("skopeo copy --all %s %s: it holds %s, want the index %s", src, ref, sha256Digest(raw), tt.index)
				}
				back := filepath.Join(dir, fmt.Sprintf("back%d.tar", j))
				skCopy(t, []string{"--all"}, ref, "oci-tar:"+back+":multi")
				images := ls(t, back)
				if len(images) != 1 || images[0].Digest != tt.index || !slices.Equal(images[0].Platforms, platforms) {
					t.Errorf("ocitar ls %s after skopeo copy --all %s: %+v, want the index %s of %v", back, ref, images, tt.index, platforms)
				}
			}

			linux := []string{"--override-os", "linux", "--override-arch", "amd64"}
			amd64 := factsOf(t, ocitar, linux, src)
			amd64.manifest = indexChild(t, run(t, ocitar, "inspect", "--raw", src), "amd64")
			one := filepath.Join(dir, "one.tar")
			skCopy(t, linux, src, "oci-tar:"+one+":one")
			got, _ := archiveImage(t, one, "one")
			assertSameImage(t, "skopeo copy without --all "+src, got, amd64, true)
		})
	}
}

// indexChild is the digest of the linux manifest for arch in an image index.
func indexChild(t *testing.T, index []byte, arch string) string {
	t.Helper()
	var i struct {
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(index, &i); err != nil {
		t.Fatalf("index %s: %v", sha256Digest(index), err)
	}
	for _, m := range i.Manifests {
		if m.Platform.OS == "linux" && m.Platform.Architecture == arch {
			return m.Digest
		}
	}
	t.Fatalf("index %s has no linux/%s manifest", sha256Digest(index), arch)
	return ""
}

// TestBuiltSkopeoSeveralImages adds images to one archive, one skopeo copy
// each, by name; copying to a name already there replaces that image in its
// place. Each is read back by name, and shared blobs are stored once.
func TestBuiltSkopeoSeveralImages(t *testing.T) {
	out := filepath.Join(t.TempDir(), "images.tar")
	copies := []struct {
		flags      []string
		file, name string
	}{
		{nil, "sample.docker.tar", "example.com/test/app:1"},
		{[]string{"--all"}, "sample-multi.oci.tar", "example.com/test/multi:1"},
		{nil, "peers/b-oci-one.skopeo.tar", "example.com/test/one:1"},
		{[]string{"--format", "oci"}, "sample.docker.tar", "example.com/test/app:1"}, // replaces the first
	}
	for _, c := range copies {
		skCopy(t, c.flags, "oci-tar:"+testdata(c.file), "oci-tar:"+out+":"+c.name)
	}
	images := ls(t, out)
	names := []string{"example.com/test/app:1", "example.com/test/multi:1", "example.com/test/one:1"}
	if len(images) != len(names) {
		t.Fatalf("ocitar ls %s: %+v, want %v", out, images, names)
	}
	for i, img := range images {
		if !slices.Equal(img.Names, names[i:i+1]) {
			t.Errorf("ocitar ls %s: image %d is named %v, want [%s]", out, i, img.Names, names[i])
		}
		raw := sk(t, "inspect", "--raw", "oci-tar:"+out+":"+names[i])
		if got := sha256Digest(raw); got != img.Digest {
			t.Errorf("skopeo inspect --raw oci-tar:%s:%s: %s, want %s", out, names[i], got, img.Digest)
		}
	}
	if images[0].MediaType != mediaTypeOCI {
		t.Errorf("ocitar ls %s: %s is a %s, want the OCI manifest of the last copy", out, names[0], images[0].MediaType)
	}
	app, _ := archiveImage(t, out, names[0])
	assertSameImage(t, names[0], app, factsOf(t, ocitar, nil, "oci-tar:"+testdata("sample.docker.tar")), false)
	assertBlobsOnce(t, out, images)
}
