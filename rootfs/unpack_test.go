package rootfs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// describeTree describes every path under root: type, mode, a regular file's
// content and link count, a symlink's target. Each directory, root included,
// is then given rwx for its owner, so that a test not running as root can
// walk and remove the tree.
func describeTree(t *testing.T, root string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.Chmod(p, info.Mode().Perm()|0o700); err != nil {
				return err
			}
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		desc := info.Mode().String()
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %q", data)
			if n := info.Sys().(*syscall.Stat_t).Nlink; n > 1 {
				desc += fmt.Sprintf(" links=%d", n)
			}
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		tree[filepath.ToSlash(rel)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// unpackLayers stores each layer gzip-compressed and unpacks them into dir.
func unpackLayers(t *testing.T, dir string, layers ...[]layerEntry) error {
	t.Helper()
	blobs := memBlobs{}
	var descs []ocispec.Descriptor
	for _, entries := range layers {
		descs = append(descs, blobs.add(t, compression.Gzip, layerTar(t, entries...)))
	}
	return Unpack(context.Background(), blobs, descs, dir, UnpackOptions{})
}

// unpackCase is layers and the tree they unpack to, as describeTree describes it.
type unpackCase struct {
	name   string
	layers [][]layerEntry
	want   map[string]string
}

func TestUnpack(t *testing.T) {
	type layers = [][]layerEntry
	fifo := layerEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o600, ModTime: entryTime}}
	tests := []unpackCase{
		{"types and modes", layers{{
			dirEntry("bin/", 0o755), regEntry("bin/suid", 0o4755, "s"), linkEntry("bin/again", "bin/suid"),
			dirEntry("etc/", 0o750), regEntry("etc/secret", 0o600, "x"), symlinkEntry("etc/link", "secret"),
			dirEntry("tmp/", 0o1777), dirEntry("run/", 0o755), fifo,
			regEntry("./dot/slash", 0o644, "parents made"),
		}}, map[string]string{
			"bin": "drwxr-xr-x", "bin/suid": `urwxr-xr-x "s" links=2`, "bin/again": `urwxr-xr-x "s" links=2`,
			"etc": "drwxr-x---", "etc/secret": `-rw------- "x"`, "etc/link": "Lrwxrwxrwx -> secret",
			"tmp": "dtrwxrwxrwx", "run": "drwxr-xr-x", "run/fifo": "prw-------",
			"dot": "drwxr-xr-x", "dot/slash": `-rw-r--r-- "parents made"`,
		}},
		{"upper layer replaces files", layers{
			{regEntry("a", 0o644, "lower"), dirEntry("d/", 0o755), regEntry("d/f", 0o644, "f"), regEntry("s", 0o644, "file")},
			{regEntry("a", 0o600, "upper"), regEntry("d", 0o644, "now a file"), symlinkEntry("s", "a")},
		}, map[string]string{"a": `-rw------- "upper"`, "d": `-rw-r--r-- "now a file"`, "s": "Lrwxrwxrwx -> a"}},
		{"whiteouts delete lower files and directories", layers{
			{regEntry("a", 0o644, "a"), regEntry("b", 0o644, "b"), dirEntry("d/", 0o755), regEntry("d/f", 0o644, "f"), symlinkEntry("l", "a")},
			{whiteoutEntry(".wh.a"), whiteoutEntry(".wh.d"), whiteoutEntry(".wh.l"), whiteoutEntry(".wh.absent")},
		}, map[string]string{"b": `-rw-r--r-- "b"`}},
		{"whiteout spares its own layer", layers{
			{regEntry("a", 0o644, "lower")},
			{regEntry("a", 0o644, "upper"), whiteoutEntry(".wh.a")},
		}, map[string]string{"a": `-rw-r--r-- "upper"`}},
		{"opaque directory", layers{
			{dirEntry("d/", 0o755), regEntry("d/old", 0o644, "o"), dirEntry("d/sub/", 0o755), regEntry("d/sub/old", 0o644, "o"), regEntry("keep", 0o644, "k")},
			{dirEntry("d/", 0o700), dirEntry("d/sub/", 0o755), regEntry("d/sub/new", 0o644, "n"), whiteoutEntry("d/.wh..wh..opq"), regEntry("d/z", 0o644, "z")},
		}, map[string]string{
			"d": "drwx------", "d/sub": "drwxr-xr-x", "d/sub/new": `-rw-r--r-- "n"`, "d/z": `-rw-r--r-- "z"`, "keep": `-rw-r--r-- "k"`,
		}},
		{"a symlinked directory replaced by a directory", layers{
			{dirEntry("real/", 0o755), dirEntry("real/x/", 0o755), symlinkEntry("alias", "real")},
			{regEntry("alias/x/f1", 0o644, "1"), whiteoutEntry(".wh.alias"), dirEntry("alias/", 0o755), regEntry("alias/x/f2", 0o644, "2")},
		}, map[string]string{"real": "drwxr-xr-x", "real/x": "drwxr-xr-x", "real/x/f1": `-rw-r--r-- "1"`,
			"alias": "drwxr-xr-x", "alias/x": "drwxr-xr-x", "alias/x/f2": `-rw-r--r-- "2"`}},
		{"whiteout of the symlink the path went through", layers{
			{dirEntry("a/", 0o755), symlinkEntry("a/l", ".")},
			{whiteoutEntry("a/l/.wh.l"), regEntry("a/l/f", 0o644, "f")},
		}, map[string]string{"a": "drwxr-xr-x", "a/l": "drwxr-xr-x", "a/l/f": `-rw-r--r-- "f"`}},
		{"whiteout under a file deletes nothing", layers{
			{regEntry("f", 0o644, "f")},
			{whiteoutEntry("f/.wh.x"), whiteoutEntry("f/d/.wh..wh..opq")},
		}, map[string]string{"f": `-rw-r--r-- "f"`}},
		{"AUFS metadata ignored", layers{{regEntry(".wh..wh.plnk", 0o644, ""), regEntry("a", 0o644, "a")}},
			map[string]string{"a": `-rw-r--r-- "a"`}},
		{"symlink to / leads to the root", layers{
			{symlinkEntry("up", "/")},
			{regEntry("up/etc/x", 0o644, "inside")},
		}, map[string]string{"up": "Lrwxrwxrwx -> /", "etc": "drwxr-xr-x", "etc/x": `-rw-r--r-- "inside"`}},
		{"symlink climbing out leads to the root", layers{{
			dirEntry("a/", 0o755), symlinkEntry("a/up", "../../../.."), regEntry("a/up/x", 0o644, "inside"),
		}}, map[string]string{"a": "drwxr-xr-x", "a/up": "Lrwxrwxrwx -> ../../../..", "x": `-rw-r--r-- "inside"`}},
		{"hard link through a symlinked directory", layers{{
			dirEntry("real/", 0o755), regEntry("real/f", 0o644, "f"), symlinkEntry("alias", "/real"), linkEntry("g", "alias/f"),
		}}, map[string]string{"real": "drwxr-xr-x", "real/f": `-rw-r--r-- "f" links=2`, "alias": "Lrwxrwxrwx -> /real", "g": `-rw-r--r-- "f" links=2`}},
		{"whiteout and opaque directory through a symlinked directory", layers{
			{dirEntry("real/", 0o755), regEntry("real/a", 0o644, "a"), regEntry("real/b", 0o644, "b"), dirEntry("real/o/", 0o755), regEntry("real/o/old", 0o644, "o"), symlinkEntry("alias", "/real")},
			{whiteoutEntry("alias/.wh.a"), whiteoutEntry("alias/o/.wh..wh..opq"), regEntry("alias/o/new", 0o644, "n")},
		}, map[string]string{"real": "drwxr-xr-x", "real/b": `-rw-r--r-- "b"`, "real/o": "drwxr-xr-x", "real/o/new": `-rw-r--r-- "n"`, "alias": "Lrwxrwxrwx -> /real"}},
		{"whiteout through a symlink climbing out", layers{
			{dirEntry("a/", 0o755), regEntry("a/f", 0o644, "f"), regEntry("g", 0o644, "g"), symlinkEntry("a/up", "../../..")},
			{whiteoutEntry("a/up/.wh.g"), whiteoutEntry("a/up/a/.wh.f")},
		}, map[string]string{"a": "drwxr-xr-x", "a/up": "Lrwxrwxrwx -> ../../.."}},
		{"whiteout of a directory held open", layers{
			{dirEntry("a/", 0o755), dirEntry("a/b/", 0o755), dirEntry("a/b/c/", 0o755), regEntry("a/b/c/f", 0o644, "f")},
			{whiteoutEntry("a/b/c/.wh.absent"), whiteoutEntry(".wh.a"), regEntry("a/b/c/new", 0o644, "n")},
		}, map[string]string{"a": "drwxr-xr-x", "a/b": "drwxr-xr-x", "a/b/c": "drwxr-xr-x", "a/b/c/new": `-rw-r--r-- "n"`}},
		deepWhiteouts(),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "rootfs")
			if err := unpackLayers(t, dir, tt.layers...); err != nil {
				t.Fatal(err)
			}
			got := describeTree(t, dir)
			for _, p := range slices.Sorted(maps.Keys(got)) {
				if got[p] != tt.want[p] {
					t.Errorf("%s: %s, want %s", p, got[p], tt.want[p])
				}
			}
			for _, p := range slices.Sorted(maps.Keys(tt.want)) {
				if _, ok := got[p]; !ok {
					t.Errorf("%s is missing, want %s", p, tt.want[p])
				}
			}
			if names := dirNames(t, parent); !slices.Equal(names, []string{"rootfs"}) {
				t.Errorf("%s holds %q, want only rootfs", parent, names)
			}
		})
	}
}

// deepWhiteouts is a case of TestUnpack: a chain of 60 directories, each
// holding a file, whose upper layer deletes the file at depth 30, makes the
// directory at depth 40 opaque and adds a file there.
func deepWhiteouts() unpackCase {
	var lower, upper []layerEntry
	want := map[string]string{}
	dir := ""
	for depth := 1; depth <= 60; depth++ {
		dir += "c/"
		lower = append(lower, dirEntry(dir, 0o755), regEntry(dir+"f", 0o644, "f"))
		if depth <= 40 {
			want[strings.TrimSuffix(dir, "/")] = "drwxr-xr-x"
		}
		if depth < 40 && depth != 30 {
			want[dir+"f"] = `-rw-r--r-- "f"`
		}
		switch depth {
		case 30:
			upper = append(upper, whiteoutEntry(dir+".wh.f"))
		case 40:
			upper = append(upper, whiteoutEntry(dir+".wh..wh..opq"), regEntry(dir+"new", 0o644, "n"))
			want[dir+"new"] = `-rw-r--r-- "n"`
		}
	}
	return unpackCase{"whiteouts and an opaque directory 30 and 40 levels deep", [][]layerEntry{lower, upper}, want}
}

func TestUnpackRefuses(t *testing.T) {
	type layers = [][]layerEntry
	tests := []struct {
		name   string
		layers layers
		want   error
		entry  string // named in the error with its layer, layer 2 of 2
	}{
		{"parent name", layers{{}, {regEntry("../x", 0o644, "")}}, archive.ErrUnsafeEntry, "../x"},
		{"parent name inside", layers{{}, {regEntry("a/../../x", 0o644, "")}}, archive.ErrUnsafeEntry, "a/../../x"},
		{"absolute name", layers{{}, {regEntry("/etc/x", 0o644, "")}}, archive.ErrUnsafeEntry, "/etc/x"},
		{"hard link to outside", layers{{}, {linkEntry("h", "../outside")}}, archive.ErrUnsafeEntry, "h"},
		{"hard link to absolute", layers{{}, {linkEntry("h", "/etc/passwd")}}, archive.ErrUnsafeEntry, "h"},
		{"whiteout of the parent", layers{{dirEntry("d/", 0o755)}, {whiteoutEntry("d/.wh..")}}, archive.ErrUnsafeEntry, "d/.wh.."},
		{"root replaced", layers{{}, {symlinkEntry("./", "/")}}, archive.ErrUnsafeEntry, "./"},
		{"symlink loop", layers{{symlinkEntry("a", "b"), symlinkEntry("b", "a")}, {regEntry("a/x", 0o644, "")}}, archive.ErrBadLink, "a/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			err := unpackLayers(t, filepath.Join(parent, "rootfs"), tt.layers...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if msg := err.Error(); !strings.Contains(msg, "layer 2 of 2") || !strings.Contains(msg, fmt.Sprintf("%q", tt.entry)) {
				t.Errorf("error %q does not name layer 2 of 2 and entry %q", msg, tt.entry)
			}
			if names := dirNames(t, parent); len(names) != 0 {
				t.Errorf("%s holds %q after the failure, want nothing", parent, names)
			}
		})
	}
}

func TestUnpackDiffIDs(t *testing.T) {
	layer := layerTar(t, regEntry("a", 0o644, "a"))
	blobs := memBlobs{}
	zstd := blobs.add(t, compression.Zstd, layer)
	plain := blobs.add(t, compression.Uncompressed, layer)
	// An uncompressed blob whose digest is its DiffID, and whose content is not it.
	forged := ocispec.Descriptor{Digest: digest.FromString("forged")}
	blobs[forged.Digest] = layer
	tests := []struct {
		name    string
		layer   ocispec.Descriptor
		diffIDs []digest.Digest
		want    error
	}{
		{"none given", zstd, nil, nil},
		{"matching", zstd, []digest.Digest{digest.FromBytes(layer)}, nil},
		{"mismatch", zstd, []digest.Digest{digest.FromString("other")}, archive.ErrDigestMismatch},
		{"too few", zstd, []digest.Digest{}, archive.ErrInvalidMetadata},
		{"uncompressed, DiffID the digest", plain, []digest.Digest{plain.Digest}, nil},
		{"uncompressed, mismatch", plain, []digest.Digest{digest.FromString("other")}, archive.ErrDigestMismatch},
		{"uncompressed, DiffID the digest, content neither", forged, []digest.Digest{forged.Digest}, archive.ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			err := Unpack(context.Background(), blobs, []ocispec.Descriptor{tt.layer}, filepath.Join(parent, "rootfs"), UnpackOptions{DiffIDs: tt.diffIDs})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			want := []string{"rootfs"}
			if tt.want != nil {
				want = nil
			}
			if names := dirNames(t, parent); !slices.Equal(names, want) {
				t.Errorf("%s holds %q, want %q", parent, names, want)
			}
		})
	}
}

func TestUnpackDestination(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) // makes what is at dir before
		want    string                         // in the error; "" for success
	}{
		{"absent", func(*testing.T, string) {}, ""},
		{"empty directory", func(t *testing.T, dir string) { mkdir(t, dir) }, ""},
		{"directory not empty", func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "x")) }, "not empty"},
		{"a file", func(t *testing.T, dir string) { mkfile(t, dir) }, "not a directory"},
		{"parent is a file", func(t *testing.T, dir string) { mkfile(t, filepath.Dir(dir)) }, "not a directory"},
		{"parent absent", func(t *testing.T, dir string) { os.Remove(filepath.Dir(dir)) }, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "parent", "rootfs")
			mkdir(t, filepath.Dir(dir))
			tt.prepare(t, dir)
			err := unpackLayers(t, dir, []layerEntry{regEntry("a", 0o644, "a")})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := describeTree(t, dir)["a"]; got != `-rw-r--r-- "a"` {
					t.Errorf("a is %s", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, dir, tt.want)
			}
		})
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mkfile(t *testing.T, path string) {
	t.Helper()
	os.Remove(path)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUnpackTimes(t *testing.T) {
	dirTime := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	d := dirEntry("d/", 0o555)
	d.hdr.ModTime = dirTime
	dir := filepath.Join(t.TempDir(), "rootfs")
	err := unpackLayers(t, dir,
		[]layerEntry{d, regEntry("d/f", 0o444, "f"), symlinkEntry("d/l", "f")},
		[]layerEntry{regEntry("d/g", 0o644, "added into a read-only directory")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want time.Time
	}{{"d", dirTime}, {"d/f", entryTime}, {"d/l", entryTime}, {"d/g", entryTime}} {
		fi, err := os.Lstat(filepath.Join(dir, tt.path))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(tt.want) {
			t.Errorf("%s: modified %v, want %v", tt.path, fi.ModTime().UTC(), tt.want)
		}
	}
}

// meddlingBlobs calls meddle before serving a blob, as another process could
// change the destination while Unpack applies the layers.
type meddlingBlobs struct {
	memBlobs
	meddle func()
}

func (m meddlingBlobs) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	m.meddle()
	return m.memBlobs.OpenBlob(d)
}

// TestUnpackDestinationChanged changes the empty destination directory while
// the layers are applied: the final rename must fail without removing what is
// there now, and leave no temporary directory.
func TestUnpackDestinationChanged(t *testing.T) {
	tests := []struct {
		name   string
		change func(dir string) error
		mine   string // the file change writes, under dir's parent
		want   string // in the error
	}{
		{"replaced by a file", func(dir string) error {
			if err := os.Remove(dir); err != nil {
				return err
			}
			return os.WriteFile(dir, []byte("mine"), 0o644)
		}, "rootfs", "not a directory"},
		{"filled", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "f"), []byte("mine"), 0o644)
		}, "rootfs/f", "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "rootfs")
			mkdir(t, dir)
			err := unpackMeddled(t, dir, func() {
				if err := tt.change(dir); err != nil {
					t.Error(err)
				}
			}, []layerEntry{regEntry("a", 0o644, "a")})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, dir, tt.want)
			}
			if data, err := os.ReadFile(filepath.Join(parent, tt.mine)); err != nil || string(data) != "mine" {
				t.Errorf("%s holds %q (%v), want what was written meanwhile", tt.mine, data, err)
			}
			if names := dirNames(t, parent); !slices.Equal(names, []string{"rootfs"}) {
				t.Errorf("%s holds %q, want only rootfs", parent, names)
			}
		})
	}
}

// unpackMeddled unpacks layers into dir as unpackLayers does, calling meddle
// when a layer is opened.
func unpackMeddled(t *testing.T, dir string, meddle func(), layers ...[]layerEntry) error {
	t.Helper()
	blobs := meddlingBlobs{memBlobs{}, meddle}
	var descs []ocispec.Descriptor
	for _, entries := range layers {
		descs = append(descs, blobs.add(t, compression.Gzip, layerTar(t, entries...)))
	}
	return Unpack(context.Background(), blobs, descs, dir, UnpackOptions{})
}

// TestUnpackRestrictedDirectories unpacks directories that their owner may not
// enter or write. Only a process that is not root meets those permissions: as
// root, the test runs again as user nobody.
func TestUnpackRestrictedDirectories(t *testing.T) {
	if rerunAsNobody(t) {
		return
	}
	type layers = [][]layerEntry
	tests := []struct {
		name   string
		layers layers
		fill   bool              // the destination is filled meanwhile, so the final rename fails
		want   map[string]string // nil: Unpack fails
	}{
		{"a subdirectory of a directory nobody may enter", layers{{
			dirEntry("a/", 0), dirEntry("a/b/", 0o755), regEntry("a/b/f", 0o644, "f"),
		}}, false, map[string]string{".": "drwxr-xr-x", "a": "d---------", "a/b": "drwxr-xr-x", "a/b/f": `-rw-r--r-- "f"`}},
		{"a root nobody may enter", layers{{
			dirEntry("./", 0), dirEntry("d/", 0o500), regEntry("d/f", 0o400, "f"),
		}}, false, map[string]string{".": "d---------", "d": "dr-x------", "d/f": `-r-------- "f"`}},
		{"a failure leaves nothing of a read-only root and a directory nobody may enter", layers{
			{dirEntry("./", 0o555), dirEntry("a/", 0), dirEntry("a/b/", 0o755), regEntry("a/b/f", 0o644, "f")},
		}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "rootfs")
			mkdir(t, dir)
			meddle := func() {}
			if tt.fill {
				meddle = func() { mkfile(t, filepath.Join(dir, "f")) }
			}
			err := unpackMeddled(t, dir, meddle, tt.layers...)
			if tt.want == nil {
				if err == nil {
					t.Fatal("Unpack succeeded, want the rename to fail")
				}
				if names := dirNames(t, parent); !slices.Equal(names, []string{"rootfs"}) {
					t.Errorf("%s holds %q after the failure, want only rootfs", parent, names)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			got := describeTree(t, dir)
			got["."] = fi.Mode().String()
			if !maps.Equal(got, tt.want) {
				t.Errorf("tree %q, want %q", got, tt.want)
			}
		})
	}
}

// nobody is the user and group ID of user nobody.
const nobody = 65534

// rerunAsNobody runs the calling test again as user nobody, in a child
// process, when the test runs as root, whom file permissions do not stop. It
// reports whether it did: the caller then returns.
func rerunAsNobody(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	mkdir(t, tmp)
	if err := os.Chown(tmp, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "test")
	copyExecutable(t, exe)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(exe, "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	t.Logf("as user nobody:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("as user nobody: %v", err)
	}
	return true
}

// copyExecutable copies the test binary to path, executable by everyone.
func copyExecutable(t *testing.T, path string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestUnpackDevices unpacks device entries: devices are made only with Chown,
// as root; otherwise each is an empty file.
func TestUnpackDevices(t *testing.T) {
	device := func(typ byte, name string) layerEntry {
		return layerEntry{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: entryTime}}
	}
	blobs := memBlobs{}
	layers := []ocispec.Descriptor{blobs.add(t, compression.Gzip, layerTar(t, device(tar.TypeChar, "null"), device(tar.TypeBlock, "disk")))}
	files := map[string]string{"null": `-rw-rw-rw- ""`, "disk": `-rw-rw-rw- ""`}
	devices := map[string]string{"null": "Dcrw-rw-rw-", "disk": "Drw-rw-rw-"}
	if os.Geteuid() != 0 {
		devices = files
	}
	tests := []struct {
		name  string
		chown bool
		want  map[string]string
	}{
		{"without Chown", false, files},
		{"with Chown", true, devices},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rootfs")
			if err := Unpack(context.Background(), blobs, layers, dir, UnpackOptions{Chown: tt.chown}); err != nil {
				t.Fatal(err)
			}
			if got := describeTree(t, dir); !maps.Equal(got, tt.want) {
				t.Errorf("tree %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUnpackLimits checks UnpackOptions.MaxEntries and MaxBytes: layers at
// the limit unpack, one entry or byte more fails with ErrTooLarge and leaves
// nothing, not even the new directory beside the destination.
func TestUnpackLimits(t *testing.T) {
	layers := [][]layerEntry{
		{dirEntry("d/", 0o755), regEntry("d/a", 0o644, "12345")},
		{regEntry("d/b", 0o644, "678"), whiteoutEntry("d/.wh.a"), symlinkEntry("l", "d/b")},
	} // 5 entries, 8 bytes of files
	tests := []struct {
		name string
		opts UnpackOptions
		fail bool
	}{
		{"no limits", UnpackOptions{}, false},
		{"entries at the limit", UnpackOptions{MaxEntries: 5}, false},
		{"one entry too many", UnpackOptions{MaxEntries: 4}, true},
		{"bytes at the limit", UnpackOptions{MaxBytes: 8}, false},
		{"one byte too many", UnpackOptions{MaxBytes: 7}, true},
		{"one byte too many in the first layer", UnpackOptions{MaxBytes: 4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blobs := memBlobs{}
			var descs []ocispec.Descriptor
			for _, entries := range layers {
				descs = append(descs, blobs.add(t, compression.Gzip, layerTar(t, entries...)))
			}
			parent := t.TempDir()
			err := Unpack(context.Background(), blobs, descs, filepath.Join(parent, "rootfs"), tt.opts)
			if !tt.fail {
				if err != nil {
					t.Fatal(err)
				}
				if names := dirNames(t, filepath.Join(parent, "rootfs")); !slices.Equal(names, []string{"d", "l"}) {
					t.Errorf("rootfs holds %q, want d and l", names)
				}
				return
			}
			if !errors.Is(err, archive.ErrTooLarge) || !strings.Contains(err.Error(), "UnpackOptions.Max") {
				t.Fatalf("error %v, want one wrapping ErrTooLarge that names the limit", err)
			}
			if names := dirNames(t, parent); len(names) != 0 {
				t.Errorf("%s holds %q after the failure, want nothing", parent, names)
			}
		})
	}
}

// BenchmarkUnpackFiles unpacks a layer of 20,000 empty files in 20 directories.
func BenchmarkUnpackFiles(b *testing.B) {
	var entries []layerEntry
	for i := range 20_000 {
		if i%1000 == 0 {
			entries = append(entries, dirEntry(fmt.Sprintf("d%02d/", i/1000), 0o755))
		}
		entries = append(entries, regEntry(fmt.Sprintf("d%02d/f%05d", i/1000, i), 0o644, ""))
	}
	blobs := memBlobs{}
	descs := []ocispec.Descriptor{blobs.add(b, compression.Uncompressed, layerTar(b, entries...))}
	for b.Loop() {
		if err := Unpack(context.Background(), blobs, descs, filepath.Join(b.TempDir(), "rootfs"), UnpackOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUnpackReadAhead covers the entries read ahead of their application:
// batches, files too large to read ahead, and a failure in the middle.
func TestUnpackReadAhead(t *testing.T) {
	large := string(testimage.Bytes(3, aheadBody+1))
	var many []layerEntry
	for i := range batchEntries*2 + 3 {
		many = append(many, regEntry(fmt.Sprintf("f%03d", i), 0o644, fmt.Sprint(i)))
	}
	tests := []struct {
		name    string
		entries []layerEntry
		want    map[string]string // file contents; nil when the unpack must fail
	}{
		{"a large file between small ones", []layerEntry{regEntry("a", 0o644, "a"), regEntry("big", 0o644, large), regEntry("b", 0o644, "b")},
			map[string]string{"a": "a", "big": large, "b": "b"}},
		{"two large files in a row", []layerEntry{regEntry("big1", 0o644, large), regEntry("big2", 0o644, large+"2")},
			map[string]string{"big1": large, "big2": large + "2"}},
		{"more entries than two batches", many, map[string]string{"f000": "0", "f064": "64", "f130": "130"}},
		{"an unsafe entry after a large file", append([]layerEntry{regEntry("big", 0o644, large)}, append(many[:3:3], regEntry("../x", 0o644, "x"))...), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blobs := memBlobs{}
			layers := []ocispec.Descriptor{blobs.add(t, compression.Gzip, layerTar(t, tt.entries...))}
			parent := t.TempDir()
			dir := filepath.Join(parent, "rootfs")
			err := Unpack(context.Background(), blobs, layers, dir, UnpackOptions{})
			if tt.want == nil {
				if !errors.Is(err, archive.ErrUnsafeEntry) {
					t.Fatalf("error %v, want %v", err, archive.ErrUnsafeEntry)
				}
				if names := dirNames(t, parent); len(names) != 0 {
					t.Errorf("%s holds %q after the failure, want nothing", parent, names)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || string(got) != want {
					t.Errorf("%s: %d bytes (%v), want %d", name, len(got), err, len(want))
				}
			}
		})
	}
}
