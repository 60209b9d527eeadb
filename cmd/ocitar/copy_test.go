package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
)

// TestCopyPeerArchives copies every archive other tools made through oci-tar:
// and through containers/image's own transport for it, and compares the results.
func TestCopyPeerArchives(t *testing.T) {
	platform := []string{"--override-os", "linux", "--override-arch", "amd64"}
	tests := []struct {
		file, selector, peer string
		config               digest.Digest
	}{
		{"a-docker-2layer.skopeo.tar", "", "docker-archive:", "sha256:a79b09e671256f55a7250cefefa3b07630607b21346bc8ae7b3cb6e7f2e6fce9"},
		{"a-docker-2layer.crane-tarball.tar", "", "docker-archive:", "sha256:a79b09e671256f55a7250cefefa3b07630607b21346bc8ae7b3cb6e7f2e6fce9"},
		{"a-docker-2layer.docker20.tar", "", "docker-archive:", "sha256:a79b09e671256f55a7250cefefa3b07630607b21346bc8ae7b3cb6e7f2e6fce9"},
		{"b-oci-one.skopeo.tar", "", "oci-archive:", "sha256:2e4e1b16d4956d2c846dc02efca1088c689abdb6feb50e84b4814132ae96a838"},
		{"c-oci-multi.skopeo.tar", ":latest", "oci-archive:", "sha256:2e4e1b16d4956d2c846dc02efca1088c689abdb6feb50e84b4814132ae96a838"},
		{"h-hello-world-docker25.ggcr-fixture.tar", "", "docker-archive:", "sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			file := peers + tt.file
			ours, theirs := filepath.Join(t.TempDir(), "ours"), filepath.Join(t.TempDir(), "theirs")
			mustOcitar(t, append(platform, "copy", "-q", "oci-tar:"+file+tt.selector, "dir:"+ours)...)
			mustOcitar(t, append(platform, "copy", "-q", tt.peer+file+tt.selector, "dir:"+theirs)...)
			got, want := readDirImage(t, ours), readDirImage(t, theirs)
			if got.config != tt.config || want.config != tt.config {
				t.Errorf("config digest: oci-tar %s, %s %s, want %s", got.config, tt.peer, want.config, tt.config)
			}
			if !slices.Equal(got.diffIDs, want.diffIDs) || len(got.diffIDs) == 0 {
				t.Errorf("DiffIDs: oci-tar %v, %s %v", got.diffIDs, tt.peer, want.diffIDs)
			}
		})
	}
}

// TestLsPeerArchives lists every archive other tools made.
func TestLsPeerArchives(t *testing.T) {
	tests := []struct {
		file      string
		want      []string // substrings of the one image line
		platforms int
	}{
		{"a-docker-2layer.skopeo.tar", []string{"@0", "example.com/test/two-layer:latest", "linux/amd64"}, 1},
		{"a-docker-2layer.crane-tarball.tar", []string{"@0", "127.0.0.1:5001/test/two-layer:latest", "linux/amd64"}, 1},
		{"a-docker-2layer.docker20.tar", []string{"@0", "example.com/test/two-layer:latest", "linux/amd64"}, 1},
		{"b-oci-one.skopeo.tar", []string{"@0", "latest", "sha256:a5d220459da17a3618fd33339f759861f8fc9d8635afbd5f979df800f94d810b", "linux/amd64"}, 1},
		{"c-oci-multi.skopeo.tar", []string{"@0", "latest", "sha256:dd6056b9671fa9fd0cbdbac28bc65098f194219160e823b95ee1408b7b5365f3", "linux/amd64,linux/arm64/v8"}, 2},
		{"h-hello-world-docker25.ggcr-fixture.tar", []string{"@0", "linux/arm64"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			lines := strings.Split(strings.TrimSpace(mustOcitar(t, "ls", peers+tt.file)), "\n")
			if len(lines) != 2 {
				t.Fatalf("want a header and one image, got %q", lines)
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[1], w) {
					t.Errorf("line %q lacks %q", lines[1], w)
				}
			}
			var images []lsImage
			readJSONString(t, mustOcitar(t, "ls", "--json", peers+tt.file), &images)
			if len(images) != 1 || len(images[0].Platforms) != tt.platforms || images[0].Size <= 0 {
				t.Errorf("ls --json: %+v", images)
			}
		})
	}
}

// TestCopyFromStdin reads an archive, plain and gzip-compressed, from a pipe.
func TestCopyFromStdin(t *testing.T) {
	tests := []struct {
		file string
		gzip bool
	}{
		{peers + "b-oci-one.skopeo.tar", false},
		{"../../testdata/sample.docker.tar", false},
		{"../../testdata/sample-multi.oci.tar", true},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if tt.gzip {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				zw.Write(data)
				zw.Close()
				data = buf.Bytes()
			}
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				defer pw.Close()
				pw.Write(data)
			}()
			stdin := os.Stdin
			os.Stdin = pr
			defer func() { os.Stdin = stdin; pr.Close() }()
			tmp := t.TempDir()
			out := filepath.Join(t.TempDir(), "out")
			mustOcitar(t, "--tmpdir", tmp, "--override-arch", "amd64", "copy", "-q", "oci-tar:-", "dir:"+out)
			if readDirImage(t, out).config == "" {
				t.Error("no config copied")
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("spool files left in --tmpdir: %v", left)
			}
		})
	}
}

// TestCopyCompressesLayers checks that --dest-compress-format and
// --dest-compress compress the uncompressed layers of a docker-save archive,
// and that without them the layers are kept as they are.
func TestCopyCompressesLayers(t *testing.T) {
	gzipMagic, zstdMagic := []byte{0x1f, 0x8b}, []byte{0x28, 0xb5, 0x2f, 0xfd}
	tests := []struct {
		flags []string
		magic []byte // how every layer blob starts; nil: neither gzip nor zstd
	}{
		{nil, nil},
		{[]string{"--dest-compress-format", "gzip"}, gzipMagic},
		{[]string{"--dest-compress-format", "zstd"}, zstdMagic},
		{[]string{"--dest-compress"}, gzipMagic},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"flags"}, tt.flags...), " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.tar")
			args := append(append([]string{"copy", "-q"}, tt.flags...), "docker-archive:../../testdata/sample.docker.tar", "oci-tar:"+out)
			mustOcitar(t, args...)
			r, err := archive.Open(out, archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			res, err := r.Resolve(archive.Selector{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Manifest.Layers) == 0 {
				t.Fatal("no layers")
			}
			for _, l := range res.Manifest.Layers {
				head := readHead(t, r, l.Digest, 4)
				compressed := bytes.HasPrefix(head, gzipMagic) || bytes.HasPrefix(head, zstdMagic)
				if tt.magic == nil && compressed || tt.magic != nil && !bytes.HasPrefix(head, tt.magic) {
					t.Errorf("layer %s (%s) starts % x, want % x", l.Digest, l.MediaType, head, tt.magic)
				}
			}
		})
	}
}

// readHead reads the first n bytes of blob d of r, verifying the whole blob.
func readHead(t *testing.T, r *archive.Reader, d digest.Digest, n int) []byte {
	t.Helper()
	rc, _, err := r.OpenBlob(d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data[:min(n, len(data))]
}

// TestCopyToCompressedArchive: a destination named .tar.zst or .tar.gz, or
// one --dest-archive-compression names, is the plain archive the same copy
// writes, compressed in the form ocitar reads in place: decompressed, the
// same bytes; read back, the same image.
func TestCopyToCompressedArchive(t *testing.T) {
	dir := t.TempDir()
	src := "docker-archive:../../testdata/sample.docker.tar"
	plain := filepath.Join(dir, "plain.tar")
	mustOcitar(t, "copy", "-q", src, "oci-tar:"+plain+":example.com/a:1")
	want, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		magic []byte
	}{
		{"a.tar.zst", nil, []byte{0x28, 0xb5, 0x2f, 0xfd}},
		{"a.tar.gz", nil, []byte{0x1f, 0x8b}},
		{"a.bundle", []string{"--dest-archive-compression", "zstd"}, []byte{0x28, 0xb5, 0x2f, 0xfd}},
		{"a.tar.zst.plain", []string{"--dest-archive-compression", "none"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, tt.name)
			args := append(append([]string{"copy", "-q"}, tt.flags...), src, "oci-tar:"+out+":example.com/a:1")
			mustOcitar(t, args...)
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, tt.magic) {
				t.Errorf("starts % x, want % x", data[:4], tt.magic)
			}
			var tar bytes.Buffer
			if err := archive.Recompress(bytes.NewReader(data), &tar, archive.Uncompressed, archive.Options{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tar.Bytes(), want) {
				t.Error("decompressed, it is not the plain archive of the same copy")
			}
			if got := readDirImage(t, copyToDir(t, "oci-tar:"+out+":example.com/a:1")); got.config != readDirImage(t, copyToDir(t, "oci-tar:"+plain)).config {
				t.Errorf("config %s read back", got.config)
			}
		})
	}
	status, _, stderr := ocitar(t, "copy", "--dest-archive-compression", "zstd", src, "dir:"+filepath.Join(dir, "d"))
	if status != 1 || !strings.Contains(stderr, "applies to oci-tar: destinations") {
		t.Errorf("--dest-archive-compression to dir: exit %d, %q", status, stderr)
	}
}

// copyToDir copies ref to a new dir: directory.
func copyToDir(t *testing.T, ref string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "d")
	mustOcitar(t, "copy", "-q", ref, "dir:"+out)
	return out
}

// TestCommandsReadCompressed: ls, inspect, verify and unpack print of each
// compressed form what they print of the plain tar.
func TestCommandsReadCompressed(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "a.tar")
	mustOcitar(t, "copy", "-q", "docker-archive:../../testdata/sample.docker.tar", "oci-tar:"+plain+":example.com/a:1")
	forms := []string{plain, recompressFile(t, plain, ".o.tar.zst"), recompressFile(t, plain, ".o.tar.gz"), gzipFile(t, plain)}
	commands := []struct {
		name string
		args func(path string) []string
	}{
		{"ls", func(p string) []string { return []string{"ls", "--json", p} }},
		{"inspect", func(p string) []string { return []string{"inspect", "oci-tar:" + p} }},
		{"inspect --raw", func(p string) []string { return []string{"inspect", "--raw", "oci-tar:" + p + ":@0"} }},
		{"verify", func(p string) []string { return []string{"verify", p} }},
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			want := mustOcitar(t, c.args(plain)...)
			for _, form := range forms[1:] {
				if got := strings.ReplaceAll(mustOcitar(t, c.args(form)...), form, plain); got != want {
					t.Errorf("%s of %s:\n%s\nwant\n%s", c.name, filepath.Base(form), got, want)
				}
			}
		})
	}
	t.Run("unpack", func(t *testing.T) {
		var trees []string
		for _, form := range forms {
			out := filepath.Join(t.TempDir(), "root")
			mustOcitar(t, "unpack", "oci-tar:"+form, out)
			trees = append(trees, treeOf(t, out))
		}
		for i, tree := range trees[1:] {
			if tree != trees[0] {
				t.Errorf("unpack of %s gives another tree", filepath.Base(forms[i+1]))
			}
		}
	})
}

// treeOf lists the files under dir with their sizes.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d\n", strings.TrimPrefix(path, dir), info.Mode(), info.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
