package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// outDir is the empty output directory of one run. For the unpack groups,
// as root, it is a new ext4 filesystem (a sparse image of the work disk,
// loop-mounted): a run on the work disk itself inherits what the run before
// it deleted, and ext4 without a journal (as this machine's disk) skips
// every inode deleted in the last minute when it allocates one, which made
// the 800,000-file unpack quadratic in whatever ran just before it.
type outDir struct {
	path  string
	image string // the ext4 image mounted at path; "" for a plain directory
}

// freshFSSize and freshFSInodes fit the largest unpack: 800,000 files, or
// 200,000 directories of one block each, or the 1 GiB image.
const (
	freshFSSize   = 16 << 30
	freshFSInodes = 2_000_000
)

// newOutDir empties work/out, and mounts a new ext4 filesystem there if fresh is set.
func newOutDir(work string, fresh bool) (*outDir, error) {
	path := filepath.Join(work, "out")
	unmountStale(path)
	if err := os.RemoveAll(path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	o := &outDir{path: path}
	if !fresh {
		return o, nil
	}
	o.image = filepath.Join(work, "out.ext4")
	if err := o.mount(); err != nil {
		os.Remove(o.image)
		return nil, err
	}
	return o, nil
}

func (o *outDir) mount() error {
	f, err := os.Create(o.image)
	if err != nil {
		return err
	}
	err = f.Truncate(freshFSSize)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, argv := range [][]string{
		{"mkfs.ext4", "-q", "-F", "-N", fmt.Sprint(freshFSInodes), o.image},
		{"mount", "-o", "loop", o.image, o.path},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// remove unmounts the filesystem, if any, and removes the directory.
func (o *outDir) remove() error {
	if o.image != "" {
		if err := syscall.Unmount(o.path, 0); err != nil {
			return fmt.Errorf("unmounting %s: %w", o.path, err)
		}
		if err := os.Remove(o.image); err != nil {
			return err
		}
	}
	return os.RemoveAll(o.path)
}

// probeFreshFS tells whether a new ext4 filesystem can be mounted for a
// run: as root, with mkfs.ext4 and loop devices.
func probeFreshFS(work string) bool {
	if os.Geteuid() != 0 {
		return false
	}
	o, err := newOutDir(work, true)
	if err != nil {
		logf("unpack runs write to the work disk: %v", err)
		return false
	}
	return o.remove() == nil
}

// freshFSMethod says where the unpack runs wrote, for RESULTS.md.
func freshFSMethod(fresh bool) string {
	if fresh {
		return fmt.Sprintf("each run unpacks into a new ext4 filesystem (mkfs.ext4 defaults, with its journal, %d inodes, on a %d GiB sparse image of the work disk, loop-mounted), so no run inherits what another deleted", freshFSInodes, freshFSSize>>30)
	}
	return "each run unpacks into an empty directory of the work disk"
}

// unmountStale unmounts what an interrupted run left mounted at path, if
// anything, so that it can be emptied.
func unmountStale(path string) {
	if os.Geteuid() == 0 {
		syscall.Unmount(path, 0)
	}
}
