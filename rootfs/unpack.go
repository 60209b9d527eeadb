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
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/hashing"
	"github.com/ocitar/ocitar/internal/pending"
	"github.com/ocitar/ocitar/internal/tarname"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	// DiffIDs, when set, are the layers' uncompressed digests (the config's
	// rootfs.diff_ids), and each layer must match its own.
	DiffIDs []digest.Digest
	// Chown gives files the owners their entries name, and makes device
	// entries devices. It takes effect only when the process runs as root;
	// otherwise every file belongs to the caller and each device is an empty
	// file, as with umoci unpack --rootless.
	Chown bool
	// Warn, if set, is told of each extended attribute that the filesystem
	// or the privileges refused and Unpack passed over.
	Warn func(error)
}

// OCI whiteouts: a file named whiteoutPrefix+NAME deletes NAME of the lower
// layers, and opaqueWhiteout in a directory deletes all its lower content.
// Other names with whiteoutMetaPrefix are AUFS metadata, which mean nothing here.
const (
	whiteoutPrefix     = ".wh."
	whiteoutMetaPrefix = ".wh..wh."
	opaqueWhiteout     = ".wh..wh..opq"
)

// maxSymlinks bounds the symlinks followed to resolve one path, as Linux does.
const maxSymlinks = 40

// Unpack applies layers, base first, into dir as a root filesystem: regular
// files, directories, symlinks, hard links, fifos and devices with their
// modes (setuid, setgid and sticky included) and modification times, and OCI
// whiteouts. Devices are created only with UnpackOptions.Chown, as root;
// otherwise each is an empty file, as umoci --rootless makes them.
//
// On Linux, the extended attributes of regular files and directories (PAX
// records SCHILY.xattr.NAME) are set: those of the user namespace always,
// the others (security.capability, trusted.*) only with Chown, as root, after
// the owner, which would clear file capabilities. overlayfs's own attributes
// (trusted.overlay.*, user.overlay.*) and SELinux labels (security.selinux)
// are the host's business and never set. One that the filesystem or the
// privileges refuse (ENOTSUP, EPERM) is passed over, as docker does, and told
// to UnpackOptions.Warn. A directory that an upper layer declares again keeps
// the attributes a lower layer gave it, as with docker.
//
// Without Chown, files belong to the caller: as root, a setuid file is then
// setuid root. Unpack images you do not trust as another user, or into a
// directory whose parent only its owner may enter (mode 0700).
//
// No entry can reach outside dir: names that are absolute or climb out with
// "..", and hard links to such names, are refused with an error wrapping
// archive.ErrUnsafeEntry that names the layer and the entry. Symlinks are followed as
// if dir were the root of the filesystem, as docker, containerd and umoci do,
// so a symlink to "/" or "../.." leads to dir; every file operation goes
// through an os.Root as well.
//
// dir must not exist, or be an empty directory. The layers are applied into a
// new directory beside it, which is renamed to dir once complete: a failed
// Unpack leaves dir as it was, and removes the new directory even where the
// layers made directories their owner may not enter.
func Unpack(ctx context.Context, b archive.BlobOpener, layers []ocispec.Descriptor, dir string, opts UnpackOptions) error {
	dir = filepath.Clean(dir)
	if opts.DiffIDs != nil {
		if err := checkDiffIDs(layers, opts.DiffIDs); err != nil {
			return fmt.Errorf("unpacking into %s: %w", dir, err)
		}
	}
	if err := checkUnpackDir(dir); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".ocitar-*")
	if err != nil {
		return fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	if err := unpackInto(ctx, b, layers, tmp, opts); err != nil {
		removeTree(tmp)
		return fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	if err := moveInto(tmp, dir); err != nil {
		removeTree(tmp)
		return fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	return nil
}

// checkUnpackDir checks that dir is absent or an empty directory.
func checkUnpackDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("unpacking into %s: it exists and is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("unpacking into %s: the directory is not empty", dir)
	}
	return nil
}

// moveInto renames the complete root filesystem tmp to dir, replacing dir
// when it is an empty directory.
func moveInto(tmp, dir string) error {
	if err := renameDir(tmp, dir); err != nil {
		return err
	}
	return pending.SyncDir(filepath.Dir(dir))
}

// removeTree removes what it can of dir, the temporary directory of a failed
// Unpack, making each of its directories first readable, writable and
// searchable by their owner: the layers may have made directories that the
// caller, unless root, could neither list nor empty.
func removeTree(dir string) {
	os.Chmod(dir, 0o700)
	if root, err := os.OpenRoot(dir); err == nil {
		fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				root.Chmod(p, 0o700)
			}
			return nil
		})
		root.Close()
	}
	os.RemoveAll(dir)
}

func unpackInto(ctx context.Context, b archive.BlobOpener, layers []ocispec.Descriptor, dir string, opts UnpackOptions) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	u := &unpacker{root: root, chown: opts.Chown && os.Geteuid() == 0, warn: opts.Warn, dirs: map[string]*tar.Header{}}
	for i, layer := range layers {
		var diffID digest.Digest
		if opts.DiffIDs != nil {
			diffID = opts.DiffIDs[i]
		}
		if err := u.applyLayer(ctx, b, layer, diffID, layerName(i, layers)); err != nil {
			return err
		}
	}
	return u.finishDirs()
}

// unpacker applies layers into a root filesystem.
type unpacker struct {
	root  *os.Root
	chown bool // running as root with UnpackOptions.Chown: owners are set and devices created
	warn  func(error)
	// dirs holds the header of every directory, whose mode and times are set
	// once all layers are applied: until then directories stay writable, and
	// new entries would change their times.
	dirs map[string]*tar.Header
	// upper holds the paths the current layer made, with their parents:
	// whiteouts delete only what lower layers made.
	upper map[string]bool
}

func (u *unpacker) applyLayer(ctx context.Context, b archive.BlobOpener, layer ocispec.Descriptor, diffID digest.Digest, what string) error {
	rc, err := openLayer(b, layer, what)
	if err != nil {
		return err
	}
	defer rc.Close()
	var stream io.Reader = contextReader{ctx, rc}
	var h *hashing.Reader
	if diffID != "" {
		h = hashing.NewReader(stream, diffID.Algorithm())
		stream = h
	}
	u.upper = map[string]bool{}
	tr := tar.NewReader(stream)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := u.apply(hdr, tr); err != nil {
			return fmt.Errorf("%s: entry %q: %w", what, hdr.Name, err)
		}
	}
	if _, err := io.Copy(io.Discard, stream); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if h != nil {
		if err := h.Verify(diffID, -1); err != nil {
			return fmt.Errorf("%s: uncompressed: %w", what, err)
		}
	}
	return nil
}

// apply applies one entry of a layer.
func (u *unpacker) apply(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := tarname.Clean(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: the root can only be a directory", archive.ErrUnsafeEntry)
		}
		u.dirs["."] = hdr
		return nil
	}
	parent, err := u.resolve(path.Dir(name))
	if err != nil {
		return err
	}
	base := path.Base(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(parent, base)
	}
	if err := u.root.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	target := path.Join(parent, base)
	if err := u.clear(target, hdr.Typeflag == tar.TypeDir); err != nil {
		return err
	}
	if err := u.create(target, hdr, r); err != nil {
		return err
	}
	u.markUpper(target)
	return u.setMetadata(target, hdr)
}

// resolve follows the symlinks of name, a clean relative path, as the kernel
// would if the root filesystem were "/". The result has no symlink among its
// existing components.
func (u *unpacker) resolve(name string) (string, error) {
	var done []string
	todo := strings.Split(name, "/")
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			done = done[:max(len(done)-1, 0)]
			continue
		}
		p := path.Join(append(done, c)...)
		fi, err := u.root.Lstat(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("%w: %q: more than %d symlinks, or a loop", archive.ErrBadLink, name, maxSymlinks)
		}
		target, err := u.root.Readlink(p)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			done = done[:0]
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// whiteout applies the whiteout file base of directory dir.
func (u *unpacker) whiteout(dir, base string) error {
	if base == opaqueWhiteout {
		return u.removeLower(dir)
	}
	if strings.HasPrefix(base, whiteoutMetaPrefix) {
		return nil
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if victim == "" || victim == "." || victim == ".." {
		return fmt.Errorf("%w: whiteout of %q", archive.ErrUnsafeEntry, victim)
	}
	victimPath := path.Join(dir, victim)
	if u.upper[victimPath] {
		return nil
	}
	return u.remove(victimPath)
}

// removeLower deletes what lower layers made in directory dir.
func (u *unpacker) removeLower(dir string) error {
	f, err := u.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		var err error
		switch {
		case !u.upper[p]:
			err = u.remove(p)
		case e.IsDir():
			err = u.removeLower(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// clear removes what is at target, unless both it and the new entry are directories.
func (u *unpacker) clear(target string, dir bool) error {
	fi, err := u.root.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if dir && fi.IsDir() {
		return nil
	}
	return u.remove(target)
}

// remove deletes p and everything under it.
func (u *unpacker) remove(p string) error {
	maps.DeleteFunc(u.dirs, func(d string, _ *tar.Header) bool {
		return d == p || strings.HasPrefix(d, p+"/")
	})
	return u.root.RemoveAll(p)
}

// markUpper records p and its parents as made by the current layer.
func (u *unpacker) markUpper(p string) {
	for ; p != "."; p = path.Dir(p) {
		u.upper[p] = true
	}
}

// create makes target as hdr describes it, with r its content.
func (u *unpacker) create(target string, hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeReg:
		return u.writeFile(target, r)
	case tar.TypeDir:
		u.dirs[target] = hdr
		err := u.root.Mkdir(target, 0o755)
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	case tar.TypeSymlink:
		return u.root.Symlink(hdr.Linkname, target)
	case tar.TypeLink:
		return u.link(target, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		if !u.chown {
			return u.writeFile(target, strings.NewReader(""))
		}
		return mknod(u.root, target, hdr)
	case tar.TypeFifo:
		return mknod(u.root, target, hdr)
	}
	return fmt.Errorf("%w: tar type %q", archive.ErrUnsupportedEntry, hdr.Typeflag)
}

func (u *unpacker) writeFile(target string, r io.Reader) error {
	f, err := u.root.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// link makes target a hard link to the entry linkname names, which must be in the root.
func (u *unpacker) link(target, linkname string) error {
	name, err := tarname.Clean(linkname)
	if err != nil || name == "." {
		return fmt.Errorf("%w: hard link to %q", archive.ErrUnsafeEntry, linkname)
	}
	parent, err := u.resolve(path.Dir(name))
	if err != nil {
		return err
	}
	return u.root.Link(path.Join(parent, path.Base(name)), target)
}

// setMetadata gives target the owner, mode and times of hdr. A hard link has
// those of its target, and a directory gets its mode and times in finishDirs.
func (u *unpacker) setMetadata(target string, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeLink {
		return nil
	}
	if u.chown {
		if err := u.root.Lchown(target, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if attrs := u.xattrs(hdr); len(attrs) > 0 {
		if err := setXattrs(u.root, target, attrs, u.warn); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return nil
	case tar.TypeSymlink:
		return lchtimes(u.root, target, accessTime(hdr), hdr.ModTime)
	}
	if err := u.root.Chmod(target, entryMode(hdr)); err != nil {
		return err
	}
	return u.root.Chtimes(target, accessTime(hdr), hdr.ModTime)
}

// xattrPrefix starts the PAX records that hold extended attributes.
const xattrPrefix = "SCHILY.xattr."

// xattr is one extended attribute.
type xattr struct {
	name  string
	value []byte
}

// hostXattrs start the names of extended attributes that belong to the host,
// not to an image: overlayfs's own and SELinux labels.
var hostXattrs = []string{"trusted.overlay.", "user.overlay.", "security.selinux"}

// xattrs are the extended attributes of hdr that Unpack sets, sorted by name:
// only regular files and directories get them, never the host's, and without
// chown only those of the user namespace.
func (u *unpacker) xattrs(hdr *tar.Header) []xattr {
	if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir {
		return nil
	}
	var attrs []xattr
	for _, key := range slices.Sorted(maps.Keys(hdr.PAXRecords)) {
		name, ok := strings.CutPrefix(key, xattrPrefix)
		host := slices.ContainsFunc(hostXattrs, func(prefix string) bool { return strings.HasPrefix(name, prefix) })
		if ok && name != "" && !host && (u.chown || strings.HasPrefix(name, "user.")) {
			attrs = append(attrs, xattr{name, []byte(hdr.PAXRecords[key])})
		}
	}
	return attrs
}

// String names the attribute in messages, quoted, as a layer may put anything
// in it, and shortened if it is long.
func (a xattr) String() string {
	name := a.name
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64]) + "..."
	}
	return fmt.Sprintf("extended attribute %q (%d bytes)", name, len(a.value))
}

// finishDirs sets the times and mode of every directory, the deepest first:
// a mode that forbids entering a directory must not stop the ones under it,
// nor its own times.
func (u *unpacker) finishDirs() error {
	for _, d := range slices.Backward(slices.Sorted(maps.Keys(u.dirs))) {
		hdr := u.dirs[d]
		if err := u.root.Chtimes(d, accessTime(hdr), hdr.ModTime); err != nil {
			return fmt.Errorf("directory %s: %w", d, err)
		}
		if err := u.root.Chmod(d, entryMode(hdr)); err != nil {
			return fmt.Errorf("directory %s: %w", d, err)
		}
	}
	return nil
}

// entryMode is the permission, setuid, setgid and sticky bits of hdr.
func entryMode(hdr *tar.Header) fs.FileMode {
	return hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

func accessTime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}
