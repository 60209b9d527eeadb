package integration

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestUmociUnpack untars ocitar's --format oci output into a directory and
// checks that umoci lists and unpacks it, to the same root filesystem umoci
// unpacks from the source image as skopeo converts it.
func TestUmociUnpack(t *testing.T) {
	const name = "sample"
	platform := []string{"--override-arch", "amd64", "--override-os", "linux"}
	tests := []struct {
		file, sel string
		flags     []string // global flags of ocitar and skopeo to choose the image
		reference string   // the source as skopeo reads it
		sample    bool     // the image is testimage.Sample, with its whiteouts
	}{
		{file: "sample.docker.tar", reference: "docker-archive:" + testdata("sample.docker.tar"), sample: true},
		{file: "sample-multi.oci.tar", sel: "example.com/ocitar/multi:1", flags: platform,
			reference: "oci-archive:" + testdata("sample-multi.oci.tar") + ":example.com/ocitar/multi:1", sample: true},
		{file: "peers/b-oci-one.skopeo.tar", reference: "oci-archive:" + testdata("peers/b-oci-one.skopeo.tar")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.tar")
			src := "oci-tar:" + testdata(tt.file)
			if tt.sel != "" {
				src += ":" + tt.sel
			}
			args := append([]string{"copy", "--insecure-policy", "-q", "--format", "oci"}, tt.flags...)
			run(t, ocitar, append(args, src, "oci-tar:"+out+":"+name)...)

			layout := filepath.Join(dir, "layout")
			umociUntar(t, out, layout)
			tags := strings.Fields(string(run(t, umoci, "ls", "--layout", layout)))
			if !slices.Equal(tags, []string{name}) {
				t.Errorf("umoci ls --layout %s: %q, want [%s]", layout, tags, name)
			}
			bundle := filepath.Join(dir, "bundle")
			run(t, umoci, "unpack", "--rootless", "--image", layout+":"+name, bundle)

			refLayout, refBundle := filepath.Join(dir, "ref"), filepath.Join(dir, "ref-bundle")
			skopeoArgs := append([]string{"--insecure-policy"}, tt.flags...)
			run(t, skopeo, append(skopeoArgs, "copy", "-q", tt.reference, "oci:"+refLayout+":"+name)...)
			run(t, umoci, "unpack", "--rootless", "--image", refLayout+":"+name, refBundle)

			rootfs := filepath.Join(bundle, "rootfs")
			umociAssertSameTree(t, rootfs, filepath.Join(refBundle, "rootfs"))
			if tt.sample {
				umociAssertWhiteouts(t, rootfs)
			}
		})
	}
}

// umociAssertWhiteouts checks that the whiteouts of layer 2 of
// testimage.Sample were applied in rootfs.
func umociAssertWhiteouts(t *testing.T, rootfs string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(rootfs, "etc/greeting.link")); !os.IsNotExist(err) {
		t.Errorf("%s: etc/greeting.link, whited out by layer 2, is there (%v)", rootfs, err)
	}
	if names := dirNames(t, filepath.Join(rootfs, "opt/old")); !slices.Equal(names, []string{"c"}) {
		t.Errorf("%s: opt/old holds %q, want only c after the opaque whiteout", rootfs, names)
	}
	if got := string(readFile(t, filepath.Join(rootfs, "etc/greeting"))); got != "overridden\n" {
		t.Errorf("%s: etc/greeting says %q, want %q from layer 2", rootfs, got, "overridden\n")
	}
}

// umociUntar extracts the tar at path, whose entries must be directories and
// regular files with local names, into dir.
func umociUntar(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !filepath.IsLocal(hdr.Name) {
			t.Fatalf("%s: entry %q is not a local name", path, hdr.Name)
		}
		target := filepath.Join(dir, hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = umociWriteFile(target, fs.FileMode(hdr.Mode).Perm(), tr)
		default:
			t.Fatalf("%s: entry %q has type %q, want only directories and regular files", path, hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			t.Fatalf("%s: extracting %s: %v", path, hdr.Name, err)
		}
	}
}

// umociWriteFile writes r to a new file at path, creating its parents.
func umociWriteFile(path string, perm fs.FileMode, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// umociNode is what the tree comparison checks of one path of a root filesystem.
type umociNode struct {
	kind   fs.FileMode // the type bits: 0 for a regular file, fs.ModeDir, fs.ModeSymlink, ...
	perm   fs.FileMode // permission, setuid, setgid and sticky bits
	sha256 string      // of a regular file's content
	target string      // of a symlink
	link   string      // for a regular file with other hard links, the first path (in walk order) of its inode
}

func (n umociNode) String() string {
	kind := map[fs.FileMode]string{0: "file", fs.ModeDir: "dir", fs.ModeSymlink: "symlink"}[n.kind]
	if kind == "" {
		kind = n.kind.String()
	}
	unix := n.perm.Perm()
	for bit, u := range map[fs.FileMode]fs.FileMode{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if n.perm&bit != 0 {
			unix |= u
		}
	}
	s := fmt.Sprintf("%s %04o", kind, uint32(unix))
	if n.sha256 != "" {
		s += " sha256:" + n.sha256
	}
	if n.target != "" {
		s += " -> " + n.target
	}
	if n.link != "" {
		s += " hard link of " + n.link
	}
	return s
}

// umociTree walks the root filesystem at root: every path under it, relative, to its node.
func umociTree(t *testing.T, root string) map[string]umociNode {
	t.Helper()
	tree := map[string]umociNode{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		n := umociNode{kind: mode.Type(), perm: mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		switch {
		case mode.IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			n.sha256 = hex.EncodeToString(sum[:])
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				if first, seen := inodes[st.Ino]; seen {
					n.link = first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case mode&fs.ModeSymlink != 0:
			if n.target, err = os.Readlink(path); err != nil {
				return err
			}
		}
		tree[rel] = n
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return tree
}

// umociAssertSameTree checks that the root filesystems got and want hold the
// same paths, with the same types, permissions, contents, symlink targets and
// hard links.
func umociAssertSameTree(t *testing.T, got, want string) {
	t.Helper()
	gotTree, wantTree := umociTree(t, got), umociTree(t, want)
	if len(wantTree) == 0 {
		t.Errorf("%s is empty", want)
	}
	union := maps.Clone(gotTree)
	maps.Copy(union, wantTree)
	paths := slices.Sorted(maps.Keys(union))
	for _, p := range paths {
		g, inGot := gotTree[p]
		w, inWant := wantTree[p]
		switch {
		case !inWant:
			t.Errorf("%s: %s (%v) is not in %s", got, p, g, want)
		case !inGot:
			t.Errorf("%s: %s (%v in %s) is missing", got, p, w, want)
		case g != w:
			t.Errorf("%s: %s is %v, want %v as in %s", got, p, g, w, want)
		}
	}
}
