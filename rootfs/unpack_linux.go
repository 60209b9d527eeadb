package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// atSymlinkNofollow is Linux's AT_SYMLINK_NOFOLLOW, which package syscall does not export.
const atSymlinkNofollow = 0x100

// mknod creates the fifo or device hdr describes at target.
func mknod(root *os.Root, target string, hdr *tar.Header) error {
	mode := uint32(entryMode(hdr).Perm())
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= syscall.S_IFCHR
	case tar.TypeBlock:
		mode |= syscall.S_IFBLK
	case tar.TypeFifo:
		mode |= syscall.S_IFIFO
	}
	dev := mkdev(hdr.Devmajor, hdr.Devminor)
	return atParent(root, "mknod", target, func(dirfd int, base string) error {
		return syscall.Mknodat(dirfd, base, mode, int(dev))
	})
}

// renameDir renames directory tmp to dir, replacing dir if it is an empty
// directory, in one rename(2): os.Rename refuses to replace a directory, and
// removing dir first would lose it if the rename then failed.
func renameDir(tmp, dir string) error {
	if err := syscall.Rename(tmp, dir); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dir, Err: err}
	}
	return nil
}

// mkdev encodes a device number as glibc's makedev does.
func mkdev(major, minor int64) uint64 {
	ma, mi := uint64(major), uint64(minor)
	return ma&0xfff<<8 | ma&^0xfff<<32 | mi&0xff | mi&^0xff<<12
}

// lchtimes sets the times of target itself, not of what it links to.
func lchtimes(root *os.Root, target string, atime, mtime time.Time) error {
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(atime.UnixNano()), syscall.NsecToTimespec(mtime.UnixNano())}
	return atParent(root, "lchtimes", target, func(dirfd int, base string) error {
		name, err := syscall.BytePtrFromString(base)
		if err != nil {
			return err
		}
		_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)),
			uintptr(unsafe.Pointer(&ts[0])), atSymlinkNofollow, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
}

// fileChtimes sets the times of f, open at name of root, through its descriptor.
func fileChtimes(_ *os.Root, name string, f *os.File, atime, mtime time.Time) error {
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(atime.UnixNano()), syscall.NsecToTimespec(mtime.UnixNano())}
	return control(f, "futimens", name, func(fd int) error {
		_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
}

// atParent calls op with a descriptor of target's directory, opened through
// root, and target's last component.
func atParent(root *os.Root, op, target string, call func(dirfd int, base string) error) error {
	dir, err := root.Open(path.Dir(target))
	if err != nil {
		return err
	}
	defer dir.Close()
	return control(dir, op, target, func(fd int) error { return call(fd, path.Base(target)) })
}

// setXattrs sets attrs on name of root, a regular file or directory that
// Unpack made at target, through a descriptor opened in root. An attribute
// the filesystem does not support, or the caller may not set, is passed over
// and told to warn.
func setXattrs(root *os.Root, name, target string, attrs []xattr, warn func(error)) error {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return control(f, "setxattr", target, func(fd int) error {
		for _, a := range attrs {
			err := unix.Fsetxattr(fd, a.name, a.value, 0)
			switch {
			case err == nil:
			case xattrRefused(err):
				if warn != nil {
					warn(fmt.Errorf("%q: %v not set: %w", target, a, err))
				}
			default:
				return fmt.Errorf("%v: %w (too many or too large for the filesystem?)", a, err)
			}
		}
		return nil
	})
}

// xattrRefused tells the errors of setting an extended attribute that mean the
// filesystem does not support it or the caller may not set it, which Unpack
// passes over, from those that mean it cannot be stored, which fail it.
func xattrRefused(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM)
}

// control calls call with f's descriptor; an error of call becomes one of op
// on target.
func control(f *os.File, op, target string, call func(fd int) error) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var callErr error
	if err := conn.Control(func(fd uintptr) { callErr = call(int(fd)) }); err != nil {
		return err
	}
	if callErr != nil {
		return &os.PathError{Op: op, Path: target, Err: callErr}
	}
	return nil
}
