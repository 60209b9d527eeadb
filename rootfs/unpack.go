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
	"syscall"
	"time"

	"github.com/ocitar/ocitar/archive"
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
	// MaxEntries, if positive, is the most entries the layers together may
	// hold, and MaxBytes, if positive, the most bytes their regular files
	// may hold, counted as they are applied (a file an upper layer replaces
	// counts twice). Past either, Unpack fails with an error wrapping
	// archive.ErrTooLarge and leaves nothing behind: a bound for services
	// that unpack images they do not trust, since a small layer can expand
	// a thousandfold. Off by default, as in docker and umoci.
	MaxEntries, MaxBytes int64
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
// so a symlink to "/" or "../.." leads to dir. Paths are looked up one
// component at a time, in memory in a tree of the directories Unpack made and
// on disk where it ends, and every file operation names one component inside
// a directory held open as an os.Root, so the kernel follows no symlink.
//
// Each entry costs a constant number of system calls, whatever its depth, as
// long as the layer lists entries directory by directory, as tar does; a
// whiteout costs what it deletes. UnpackOptions.MaxEntries and MaxBytes bound
// what the layers may write.
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
	u := &unpacker{root: root, tree: newDirTree(root), chown: opts.Chown && os.Geteuid() == 0, warn: opts.Warn,
		maxEntries: opts.MaxEntries, maxBytes: opts.MaxBytes, buf: make([]byte, 256<<10)}
	defer u.tree.close()
	for i, layer := range layers {
		var diffID digest.Digest
		if opts.DiffIDs != nil {
			diffID = opts.DiffIDs[i]
		}
		u.layer = i + 1
		if err := u.applyLayer(ctx, b, layer, diffID, layerName(i, layers)); err != nil {
			return err
		}
	}
	return u.finishDir(u.tree.top)
}

// unpacker applies layers into a root filesystem.
type unpacker struct {
	root  *os.Root
	chown bool // running as root with UnpackOptions.Chown: owners are set and devices created
	warn  func(error)
	// tree holds every directory, whose mode and times are set once all
	// layers are applied: until then directories stay writable, and new
	// entries would change their times.
	tree  *dirTree
	layer int // the layer being applied, from 1
	// upper holds the other entries the current layer made (a directory's
	// dirNode.layer tells the same): whiteouts delete only what lower layers made.
	upper map[entryKey]bool
	// entries and bytes are what the layers applied so far hold, checked
	// against UnpackOptions.MaxEntries and MaxBytes.
	entries, bytes       int64
	maxEntries, maxBytes int64
	buf                  []byte // copies file contents
}

// entryKey names an entry by its directory.
type entryKey struct {
	dir  *dirNode
	name string
}

func (u *unpacker) applyLayer(ctx context.Context, b archive.BlobOpener, layer ocispec.Descriptor, diffID digest.Digest, what string) error {
	stream, err := openChecked(ctx, b, layer, diffID, what)
	if err != nil {
		return err
	}
	defer stream.Close()
	u.upper = map[entryKey]bool{}
	entries := readEntries(stream)
	defer entries.close()
	for {
		// The last batch ends with the layer's end or its error.
		for _, e := range <-entries.batches {
			switch {
			case e.err == io.EOF:
				return nil
			case e.err != nil:
				return fmt.Errorf("%s: %w", what, e.err)
			}
			if err := u.apply(e.hdr, e.body); err != nil {
				return fmt.Errorf("%s: entry %q: %w", what, e.hdr.Name, err)
			}
			entries.consumed(e)
		}
	}
}

// apply applies one entry of a layer.
func (u *unpacker) apply(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	if err := u.count(hdr); err != nil {
		return err
	}
	name, err := tarname.Clean(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: the root can only be a directory", archive.ErrUnsafeEntry)
		}
		u.tree.top.hdr = hdr
		return nil
	}
	base := path.Base(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		parent, err := u.tree.lookup(path.Dir(name), false)
		if err != nil || parent == nil {
			return err
		}
		return u.whiteout(parent, base)
	}
	var source string // a hard link's, found first: lookups may close the parent's directory
	if hdr.Typeflag == tar.TypeLink {
		if source, err = u.linkSource(hdr.Linkname); err != nil {
			return err
		}
	}
	parent, err := u.tree.lookup(path.Dir(name), true)
	if err != nil {
		return err
	}
	if err := u.create(parent, base, hdr, source, r); err != nil {
		return err
	}
	u.markUpper(parent, base, hdr.Typeflag == tar.TypeDir)
	return nil
}

// count adds hdr to the entries and bytes unpacked, failing past the limits.
func (u *unpacker) count(hdr *tar.Header) error {
	u.entries++
	if u.maxEntries > 0 && u.entries > u.maxEntries {
		return fmt.Errorf("%w: more than %d entries (limit: UnpackOptions.MaxEntries)", archive.ErrTooLarge, u.maxEntries)
	}
	if hdr.Typeflag == tar.TypeReg {
		u.bytes += hdr.Size
	}
	if u.maxBytes > 0 && u.bytes > u.maxBytes {
		return fmt.Errorf("%w: more than %d bytes of files (limit: UnpackOptions.MaxBytes)", archive.ErrTooLarge, u.maxBytes)
	}
	return nil
}

// whiteout applies the whiteout file base of directory dir.
func (u *unpacker) whiteout(dir *dirNode, base string) error {
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
	if u.madeByThisLayer(dir, victim) {
		return nil
	}
	return u.remove(dir, victim)
}

// madeByThisLayer tells whether the current layer made name of dir, or
// anything under it.
func (u *unpacker) madeByThisLayer(dir *dirNode, name string) bool {
	if c := dir.children[name]; c != nil {
		return c.layer == u.layer
	}
	return u.upper[entryKey{dir, name}]
}

// removeLower deletes what lower layers made in directory dir.
func (u *unpacker) removeLower(dir *dirNode) error {
	root, err := u.tree.dir(dir)
	if err != nil {
		return err
	}
	f, err := root.Open(".")
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		var err error
		switch c := dir.children[name]; {
		case !u.madeByThisLayer(dir, name):
			err = u.remove(dir, name)
		case c != nil:
			err = u.removeLower(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// remove deletes name of directory dir and everything under it. What is
// not there, or an empty directory, costs two system calls: RemoveAll would
// open and read a directory before removing it.
func (u *unpacker) remove(dir *dirNode, name string) error {
	u.tree.detach(dir, name)
	root, err := u.tree.dir(dir)
	if err != nil {
		return err
	}
	if err := root.Remove(name); err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return root.RemoveAll(name)
}

// markUpper records name of dir, and dir with its parents, as made by the current layer.
func (u *unpacker) markUpper(dir *dirNode, name string, isDir bool) {
	if isDir {
		dir.children[name].layer = u.layer
	} else {
		u.upper[entryKey{dir, name}] = true
	}
	for n := dir; n != nil && n.layer != u.layer; n = n.parent {
		n.layer = u.layer
	}
}

// create makes name in dir as hdr describes it, with its metadata, r its
// content and source, for a hard link, the path of what it links to. What
// is there already is removed, unless both are directories.
func (u *unpacker) create(dir *dirNode, name string, hdr *tar.Header, source string, r io.Reader) error {
	if hdr.Typeflag == tar.TypeDir {
		if err := u.mkdir(dir, name, hdr); err != nil {
			return err
		}
		return u.setMetadata(dir, name, hdr, nil)
	}
	err := u.make(dir, name, hdr, source, r)
	if errors.Is(err, fs.ErrExist) {
		if err := u.remove(dir, name); err != nil {
			return err
		}
		err = u.make(dir, name, hdr, source, r)
	}
	return err
}

// mkdir makes directory name in dir, or keeps the one there, and records hdr for it.
func (u *unpacker) mkdir(dir *dirNode, name string, hdr *tar.Header) error {
	c := dir.children[name]
	if c == nil {
		root, err := u.tree.dir(dir)
		if err != nil {
			return err
		}
		err = root.Mkdir(name, 0o755)
		if errors.Is(err, fs.ErrExist) { // not a directory, which would be in the tree
			if err = u.remove(dir, name); err == nil {
				root, err = u.tree.dir(dir)
			}
			if err == nil {
				err = root.Mkdir(name, 0o755)
			}
		}
		if err != nil {
			return err
		}
		c = dir.add(name)
	}
	c.hdr = hdr
	return nil
}

// make makes the entry hdr describes, not a directory, as name in dir, with
// its metadata; it fails with fs.ErrExist if something is there.
func (u *unpacker) make(dir *dirNode, name string, hdr *tar.Header, source string, r io.Reader) error {
	if hdr.Typeflag == tar.TypeLink {
		return u.root.Link(source, path.Join(dir.path(), name))
	}
	root, err := u.tree.dir(dir)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		return u.writeFile(dir, root, name, hdr, r)
	case tar.TypeSymlink:
		err = root.Symlink(hdr.Linkname, name)
	case tar.TypeChar, tar.TypeBlock:
		if !u.chown {
			return u.writeFile(dir, root, name, hdr, strings.NewReader(""))
		}
		err = mknod(root, name, hdr)
	case tar.TypeFifo:
		err = mknod(root, name, hdr)
	default:
		return fmt.Errorf("%w: tar type %q", archive.ErrUnsupportedEntry, hdr.Typeflag)
	}
	if err != nil {
		return err
	}
	return u.setMetadata(dir, name, hdr, nil)
}

// writeFile writes r to a new regular file name of dir, and gives it the
// metadata of hdr through its descriptor.
func (u *unpacker) writeFile(dir *dirNode, root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	// O_NONBLOCK, which a new regular file ignores, spares the four fcntl
	// calls with which os would switch it to non-blocking and back.
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		// Hiding f's ReadFrom makes the copy use u.buf: os.File's would
		// take a new 32 KiB buffer for every file.
		_, err = io.CopyBuffer(struct{ io.Writer }{f}, r, u.buf)
	}
	if err == nil {
		err = u.setMetadata(dir, name, hdr, f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// linkSource is the path, with no symlink among its directories, of the
// entry linkname names, which must be in the root.
func (u *unpacker) linkSource(linkname string) (string, error) {
	name, err := tarname.Clean(linkname)
	if err != nil || name == "." {
		return "", fmt.Errorf("%w: hard link to %q", archive.ErrUnsafeEntry, linkname)
	}
	dir, err := u.tree.lookup(path.Dir(name), false)
	if err != nil {
		return "", err
	}
	if dir == nil {
		return "", &fs.PathError{Op: "link", Path: linkname, Err: fs.ErrNotExist}
	}
	return path.Join(dir.path(), path.Base(name)), nil
}

// setMetadata gives name of dir the owner, extended attributes, mode and
// times of hdr, through f when it is the entry's open file. A hard link has
// those of its target, and a directory gets its mode and times in finishDir.
func (u *unpacker) setMetadata(dir *dirNode, name string, hdr *tar.Header, f *os.File) error {
	if hdr.Typeflag == tar.TypeLink {
		return nil
	}
	root, err := u.tree.dir(dir)
	if err != nil {
		return err
	}
	if u.chown {
		if f != nil {
			err = f.Chown(hdr.Uid, hdr.Gid)
		} else {
			err = root.Lchown(name, hdr.Uid, hdr.Gid)
		}
		if err != nil {
			return err
		}
	}
	if attrs := u.xattrs(hdr); len(attrs) > 0 {
		if err := setXattrs(root, name, path.Join(dir.path(), name), attrs, u.warn); err != nil {
			return err
		}
	}
	switch {
	case hdr.Typeflag == tar.TypeDir:
		return nil
	case hdr.Typeflag == tar.TypeSymlink:
		return lchtimes(root, name, accessTime(hdr), hdr.ModTime)
	case f != nil:
		if err := f.Chmod(entryMode(hdr)); err != nil {
			return err
		}
		return fileChtimes(root, name, f, accessTime(hdr), hdr.ModTime)
	}
	if err := root.Chmod(name, entryMode(hdr)); err != nil {
		return err
	}
	return root.Chtimes(name, accessTime(hdr), hdr.ModTime)
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

// finishDir sets the times and mode of every directory under dir, and of
// dir itself if it is the root, the deepest first: a mode that forbids
// entering a directory must not stop the ones under it, nor its own times.
func (u *unpacker) finishDir(dir *dirNode) error {
	for _, name := range slices.Sorted(maps.Keys(dir.children)) {
		c := dir.children[name]
		if err := u.finishDir(c); err != nil {
			return err
		}
		if c.hdr == nil {
			continue
		}
		root, err := u.tree.dir(dir)
		if err != nil {
			return err
		}
		if err := setDirMetadata(root, name, c.hdr); err != nil {
			return fmt.Errorf("directory %s: %w", c.path(), err)
		}
	}
	if dir.parent != nil || dir.hdr == nil {
		return nil
	}
	if err := setDirMetadata(u.root, ".", dir.hdr); err != nil {
		return fmt.Errorf("directory .: %w", err)
	}
	return nil
}

func setDirMetadata(root *os.Root, name string, hdr *tar.Header) error {
	if err := root.Chtimes(name, accessTime(hdr), hdr.ModTime); err != nil {
		return err
	}
	return root.Chmod(name, entryMode(hdr))
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
