package testimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var (
	amd64 = ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}

	sampleAMD64 = Sample("example.com/ocitar/sample:1", amd64)
	sampleARM64 = Sample("example.com/ocitar/sample:1", arm64)
	// otherAMD64 has the same layers and config as sampleAMD64 under another name.
	otherAMD64 = Sample("localhost:5000/other:latest", amd64)
)

// tarEntry is one entry of a parsed tar.
type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

func readTar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	var entries []tarEntry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", hdr.Name, err)
		}
		entries = append(entries, tarEntry{hdr, body})
	}
}

func names(entries []tarEntry) []string {
	var n []string
	for _, e := range entries {
		n = append(n, e.hdr.Name)
	}
	return n
}

func byName(t *testing.T, entries []tarEntry) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, e := range entries {
		if _, dup := m[e.hdr.Name]; dup {
			t.Errorf("entry %s appears twice", e.hdr.Name)
		}
		m[e.hdr.Name] = e.body
	}
	return m
}

// checkHeaders checks the fixed metadata every generated tar entry has.
func checkHeaders(t *testing.T, what string, entries []tarEntry) {
	t.Helper()
	for _, e := range entries {
		h := e.hdr
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(0, 0)) || h.Format != tar.FormatUSTAR {
			t.Errorf("%s: %s: uid %d gid %d uname %q gname %q mtime %v format %v, want root, no names, epoch, USTAR",
				what, h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime, h.Format)
		}
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func unmarshal(t *testing.T, what string, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func write(t *testing.T, f func(io.Writer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func dockerSave(images ...Image) func(io.Writer) error {
	return func(w io.Writer) error { return WriteDockerSave(w, images...) }
}

func ociLayout(opts OCIOptions, images ...Image) func(io.Writer) error {
	return func(w io.Writer) error { return WriteOCILayout(w, opts, images...) }
}

func TestWritersAreDeterministic(t *testing.T) {
	tests := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"docker one", dockerSave(sampleAMD64)},
		{"docker two platforms", dockerSave(sampleAMD64, sampleARM64)},
		{"oci plain", ociLayout(OCIOptions{}, sampleAMD64)},
		{"oci gzip", ociLayout(OCIOptions{Gzip: true}, sampleAMD64, sampleARM64)},
		{"oci index gzip", ociLayout(OCIOptions{Index: true, Gzip: true}, sampleAMD64, sampleARM64)},
		{"sample rebuilt", ociLayout(OCIOptions{Gzip: true}, Sample("example.com/ocitar/sample:1", amd64))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := write(t, tt.write), write(t, tt.write)
			if !bytes.Equal(a, b) {
				t.Errorf("two runs differ: %d bytes (sha256 %s) vs %d bytes (sha256 %s)", len(a), sha256Hex(a), len(b), sha256Hex(b))
			}
		})
	}
	if !reflect.DeepEqual(Sample(sampleARM64.Name, arm64), sampleARM64) {
		t.Error("Sample gives different images for the same platform")
	}
}

func TestTestdataIsUpToDate(t *testing.T) {
	for _, f := range Testdata {
		t.Run(f.Name, func(t *testing.T) {
			got, err := os.ReadFile("../../testdata/" + f.Name)
			if err != nil {
				t.Fatalf("%v; run `make testdata`", err)
			}
			if want := write(t, f.Write); !bytes.Equal(got, want) {
				t.Errorf("testdata/%s (%d bytes) differs from a fresh generation (%d bytes); run `make testdata`", f.Name, len(got), len(want))
			}
			// The writers' tests check the content; this checks the file is the archive its name says.
			wantLast := map[string]string{"sample.docker.tar": "repositories", "sample-multi.oci.tar": "index.json"}[f.Name]
			if n := names(readTar(t, got)); len(n) == 0 || n[len(n)-1] != wantLast {
				t.Errorf("testdata/%s entries %q, want the last to be %q", f.Name, n, wantLast)
			}
		})
	}
}

func TestSampleLayers(t *testing.T) {
	tests := []struct {
		layer    int
		name     string
		typeflag byte
		mode     int64
		linkname string
		body     string // checked if not empty
		minSize  int64
	}{
		{0, "etc/greeting", tar.TypeReg, 0o644, "", "hello from layer1\n", 0},
		{0, "etc/arch", tar.TypeReg, 0o644, "", "linux/amd64\n", 0},
		{0, "etc/greeting.link", tar.TypeSymlink, 0o777, "greeting", "", 0},
		{0, "bin/hi", tar.TypeReg, 0o755, "", "", 1},
		{0, "bin/hi2", tar.TypeLink, 0o755, "bin/hi", "", 0},
		{0, "bin/suid", tar.TypeReg, 0o4755, "", "", 1},
		{0, "etc/secret", tar.TypeReg, 0o600, "", "", 1},
		{0, "usr/share/big.bin", tar.TypeReg, 0o644, "", "", 1<<20 + 1},
		{0, "usr/share/doc/", tar.TypeDir, 0o755, "", "", 0},
		{0, "opt/old/b", tar.TypeReg, 0o644, "", "b\n", 0},
		{1, "etc/greeting", tar.TypeReg, 0o644, "", "overridden\n", 0},
		{1, "etc/.wh.greeting.link", tar.TypeReg, 0, "", "", 0},
		{1, "opt/old/.wh..wh..opq", tar.TypeReg, 0, "", "", 0},
		{1, "opt/old/c", tar.TypeReg, 0o644, "", "c\n", 0},
		{1, "app/version", tar.TypeReg, 0o644, "", "1.0.0\n", 0},
	}
	layers := make([][]tarEntry, len(sampleAMD64.Layers))
	for i, l := range sampleAMD64.Layers {
		layers[i] = readTar(t, l)
		checkHeaders(t, "layer "+string(rune('1'+i)), layers[i])
		seen := map[string]bool{}
		for _, e := range layers[i] {
			if dir := path.Dir(strings.TrimSuffix(e.hdr.Name, "/")); dir != "." && !seen[dir+"/"] {
				t.Errorf("layer %d: %s comes before its directory", i+1, e.hdr.Name)
			}
			seen[e.hdr.Name] = true
		}
		if n := names(layers[i]); !slices.IsSorted(n) {
			t.Errorf("layer %d entries not sorted: %q", i+1, n)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := slices.IndexFunc(layers[tt.layer], func(e tarEntry) bool { return e.hdr.Name == tt.name })
			if i < 0 {
				t.Fatalf("layer %d has no %s", tt.layer+1, tt.name)
			}
			e := layers[tt.layer][i]
			if e.hdr.Typeflag != tt.typeflag || e.hdr.Mode != tt.mode || e.hdr.Linkname != tt.linkname {
				t.Errorf("type %c mode %o link %q, want %c %o %q", e.hdr.Typeflag, e.hdr.Mode, e.hdr.Linkname, tt.typeflag, tt.mode, tt.linkname)
			}
			if tt.body != "" && string(e.body) != tt.body {
				t.Errorf("body %q, want %q", e.body, tt.body)
			}
			if e.hdr.Size < tt.minSize {
				t.Errorf("size %d, want at least %d", e.hdr.Size, tt.minSize)
			}
		})
	}
}

func TestSamplePlatforms(t *testing.T) {
	for _, img := range []Image{sampleAMD64, sampleARM64} {
		var config ocispec.Image
		unmarshal(t, "config", img.Config, &config)
		if !reflect.DeepEqual(config.Platform, img.Platform) {
			t.Errorf("config platform %+v, want %+v", config.Platform, img.Platform)
		}
		checkDiffIDs(t, img.Config, img.Layers)
		if config.RootFS.Type != "layers" || config.Created == nil || !config.Created.Equal(Created) || len(config.Config.Cmd) == 0 || len(config.Config.Env) == 0 || len(config.Config.Labels) == 0 {
			t.Errorf("config lacks rootfs type, created, Cmd, Env or Labels: %s", img.Config)
		}
	}
	if bytes.Equal(sampleAMD64.Layers[0], sampleARM64.Layers[0]) || bytes.Equal(sampleAMD64.Config, sampleARM64.Config) {
		t.Error("layer 1 or config is the same for both platforms")
	}
	if !bytes.Equal(sampleAMD64.Layers[1], sampleARM64.Layers[1]) {
		t.Error("layer 2 differs between platforms")
	}
}

// checkDiffIDs checks that config's diff_ids are the sha256 digests of layers.
func checkDiffIDs(t *testing.T, config []byte, layers [][]byte) {
	t.Helper()
	var c ocispec.Image
	unmarshal(t, "config", config, &c)
	var want []digest.Digest
	for _, l := range layers {
		want = append(want, digest.Digest("sha256:"+sha256Hex(l)))
	}
	if !slices.Equal(c.RootFS.DiffIDs, want) {
		t.Errorf("diff_ids %v, want %v", c.RootFS.DiffIDs, want)
	}
}

func TestWriteDockerSave(t *testing.T) {
	tests := []struct {
		name                  string
		images                []Image
		wantLayers, wantConfs int
	}{
		{"one image", []Image{sampleAMD64}, 2, 1},
		{"same image two names", []Image{sampleAMD64, otherAMD64}, 2, 1},
		// Layer 2 is the same tar on both platforms, but its id chains from a different parent.
		{"two platforms", []Image{sampleAMD64, sampleARM64}, 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := readTar(t, write(t, dockerSave(tt.images...)))
			checkHeaders(t, "archive", entries)
			files := byName(t, entries)
			n := names(entries)
			if len(n) < 2 || n[len(n)-2] != "manifest.json" || n[len(n)-1] != "repositories" {
				t.Fatalf("entries %q do not end with manifest.json, repositories", n)
			}
			var layerDirs, configs int
			for i := 0; i < len(n)-2; i++ {
				if strings.HasSuffix(n[i], ".json") && !strings.Contains(n[i], "/") {
					configs++
					continue
				}
				id := strings.TrimSuffix(n[i], "/")
				if want := []string{id + "/", id + "/VERSION", id + "/json", id + "/layer.tar"}; i+4 > len(n) || !slices.Equal(n[i:i+4], want) {
					t.Fatalf("entries %q from %d, want a layer dir %q", n, i, want)
				}
				if string(files[id+"/VERSION"]) != "1.0" {
					t.Errorf("%s/VERSION = %q", id, files[id+"/VERSION"])
				}
				layerDirs++
				i += 3
			}
			if layerDirs != tt.wantLayers || configs != tt.wantConfs {
				t.Errorf("%d layer dirs and %d configs, want %d and %d", layerDirs, configs, tt.wantLayers, tt.wantConfs)
			}

			var manifest []struct {
				Config           string
				RepoTags, Layers []string
			}
			unmarshal(t, "manifest.json", files["manifest.json"], &manifest)
			var repositories map[string]map[string]string
			unmarshal(t, "repositories", files["repositories"], &repositories)
			if len(manifest) != len(tt.images) {
				t.Fatalf("manifest.json has %d items, want %d", len(manifest), len(tt.images))
			}
			tops := map[string]string{} // image name to top layer id
			for i, item := range manifest {
				img := tt.images[i]
				if item.Config != sha256Hex(img.Config)+".json" || !bytes.Equal(files[item.Config], img.Config) {
					t.Errorf("item %d: config %s does not hold the image's config", i, item.Config)
				}
				if !slices.Equal(item.RepoTags, []string{img.Name}) {
					t.Errorf("item %d: RepoTags %q, want [%q]", i, item.RepoTags, img.Name)
				}
				var layers [][]byte
				parent := ""
				for j, l := range item.Layers {
					id, ok := strings.CutSuffix(l, "/layer.tar")
					if !bytes.Equal(files[l], img.Layers[j]) || !ok {
						t.Errorf("item %d: layer %s is not layer %d of the image", i, l, j)
					}
					var legacy struct{ ID, Parent string }
					unmarshal(t, id+"/json", files[id+"/json"], &legacy)
					if legacy.ID != id || legacy.Parent != parent {
						t.Errorf("%s/json has id %q parent %q, want %q %q", id, legacy.ID, legacy.Parent, id, parent)
					}
					if id == sha256Hex(img.Layers[j]) {
						t.Errorf("layer id %s is the diff id", id)
					}
					layers = append(layers, files[l])
					parent = id
				}
				checkDiffIDs(t, files[item.Config], layers)
				tops[img.Name] = parent // the last image with a name wins
			}
			want := map[string]map[string]string{}
			for name, top := range tops {
				i := strings.LastIndexByte(name, ':')
				if want[name[:i]] == nil {
					want[name[:i]] = map[string]string{}
				}
				want[name[:i]][name[i+1:]] = top
			}
			if !reflect.DeepEqual(repositories, want) {
				t.Errorf("repositories = %v, want %v", repositories, want)
			}
		})
	}
}

func TestWriteOCILayout(t *testing.T) {
	tests := []struct {
		name   string
		opts   OCIOptions
		images []Image
	}{
		{"one plain", OCIOptions{}, []Image{sampleAMD64}},
		{"two gzip", OCIOptions{Gzip: true}, []Image{sampleAMD64, sampleARM64}},
		{"index gzip", OCIOptions{Index: true, Gzip: true}, []Image{sampleAMD64, sampleARM64}},
		{"index plain same image twice", OCIOptions{Index: true}, []Image{sampleAMD64, otherAMD64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := readTar(t, write(t, ociLayout(tt.opts, tt.images...)))
			checkHeaders(t, "archive", entries)
			files := byName(t, entries)
			n := names(entries)
			if len(n) < 4 || !slices.Equal(n[:3], []string{"oci-layout", "blobs/", "blobs/sha256/"}) || n[len(n)-1] != "index.json" {
				t.Fatalf("entries %q: want oci-layout, blobs/, blobs/sha256/, blobs, index.json", n)
			}
			if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
				t.Errorf("oci-layout = %s", files["oci-layout"])
			}
			blobNames := n[3 : len(n)-1]
			if !slices.IsSorted(blobNames) {
				t.Errorf("blobs not sorted: %q", blobNames)
			}
			unused := map[string]bool{}
			for _, b := range blobNames {
				hexDigest, ok := strings.CutPrefix(b, "blobs/sha256/")
				if !ok || hexDigest != sha256Hex(files[b]) {
					t.Errorf("blob %s has sha256 %s", b, sha256Hex(files[b]))
				}
				unused[b] = true
			}
			// blob returns the blob d describes, checking its digest and size.
			blob := func(d ocispec.Descriptor, mediaType string) []byte {
				t.Helper()
				name := "blobs/sha256/" + d.Digest.Encoded()
				b, ok := files[name]
				if !ok || d.Digest.Algorithm() != digest.SHA256 || int64(len(b)) != d.Size || d.MediaType != mediaType {
					t.Fatalf("descriptor %+v: blob present %v, size %d, want media type %s", d, ok, len(b), mediaType)
				}
				delete(unused, name)
				return b
			}

			var index ocispec.Index
			unmarshal(t, "index.json", files["index.json"], &index)
			if index.SchemaVersion != 2 || index.MediaType != ocispec.MediaTypeImageIndex {
				t.Errorf("index.json: schemaVersion %d mediaType %q", index.SchemaVersion, index.MediaType)
			}
			manifests := index.Manifests
			wantNames := []string{}
			for _, img := range tt.images {
				wantNames = append(wantNames, img.Name)
			}
			if tt.opts.Index {
				if len(index.Manifests) != 1 {
					t.Fatalf("index.json lists %d descriptors, want one index", len(index.Manifests))
				}
				var inner ocispec.Index
				unmarshal(t, "image index", blob(index.Manifests[0], ocispec.MediaTypeImageIndex), &inner)
				if inner.SchemaVersion != 2 || inner.MediaType != ocispec.MediaTypeImageIndex {
					t.Errorf("image index: schemaVersion %d mediaType %q", inner.SchemaVersion, inner.MediaType)
				}
				checkNameAnnotations(t, index.Manifests[0], tt.images[0].Name)
				manifests, wantNames = inner.Manifests, make([]string, len(tt.images))
			}
			if len(manifests) != len(tt.images) {
				t.Fatalf("%d manifests, want %d", len(manifests), len(tt.images))
			}
			layerType := ocispec.MediaTypeImageLayer
			if tt.opts.Gzip {
				layerType = ocispec.MediaTypeImageLayerGzip
			}
			for i, d := range manifests {
				img := tt.images[i]
				if d.Platform == nil || !reflect.DeepEqual(*d.Platform, img.Platform) {
					t.Errorf("manifest %d: platform %+v, want %+v", i, d.Platform, img.Platform)
				}
				checkNameAnnotations(t, d, wantNames[i])
				var m ocispec.Manifest
				unmarshal(t, "manifest", blob(d, ocispec.MediaTypeImageManifest), &m)
				if m.SchemaVersion != 2 || m.MediaType != ocispec.MediaTypeImageManifest || len(m.Layers) != len(img.Layers) {
					t.Fatalf("manifest %d: schemaVersion %d mediaType %q, %d layers", i, m.SchemaVersion, m.MediaType, len(m.Layers))
				}
				config := blob(m.Config, ocispec.MediaTypeImageConfig)
				if !bytes.Equal(config, img.Config) {
					t.Errorf("manifest %d: config is not the image's", i)
				}
				var layers [][]byte
				for j, l := range m.Layers {
					layer := blob(l, layerType)
					if tt.opts.Gzip {
						layer = gunzip(t, layer)
					}
					if !bytes.Equal(layer, img.Layers[j]) {
						t.Errorf("manifest %d: layer %d is not the image's", i, j)
					}
					layers = append(layers, layer)
				}
				checkDiffIDs(t, config, layers)
			}
			if len(unused) > 0 {
				t.Errorf("blobs nothing refers to: %v", unused)
			}
		})
	}
}

func checkNameAnnotations(t *testing.T, d ocispec.Descriptor, name string) {
	t.Helper()
	var want map[string]string
	if name != "" {
		want = map[string]string{ocispec.AnnotationRefName: name, "io.containerd.image.name": name}
	}
	if !reflect.DeepEqual(d.Annotations, want) {
		t.Errorf("descriptor %s: annotations %v, want %v", d.Digest, d.Annotations, want)
	}
}

// gunzip decompresses b, checking the header has no optional fields (name, comment,
// extra) and MTIME 0. It reads the raw header: gzip readers differ in how they report MTIME 0.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	if len(b) < 10 || b[3] != 0 || !bytes.Equal(b[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header % x: want FLG 0 and MTIME 0", b[:min(len(b), 10)])
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"docker no images", dockerSave()},
		{"docker name without tag", dockerSave(Sample("example.com/ocitar/sample", amd64))},
		{"docker registry port, no tag", dockerSave(Sample("localhost:5000/sample", amd64))},
		{"docker digest reference", dockerSave(Sample("example.com/x@sha256:"+strings.Repeat("0", 64), amd64))},
		{"oci no images", ociLayout(OCIOptions{Index: true})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(io.Discard); err == nil {
				t.Error("no error")
			}
		})
	}
}
