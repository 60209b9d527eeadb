package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/ocitar/ocitar/archive"
)

// dirNode is one directory of the root filesystem being unpacked. The nodes
// form a tree of every directory Unpack made or found, with no symlink among
// them: a path is looked up in the tree, in memory, and on disk only where the
// tree ends, one component at a time.
type dirNode struct {
	name     string
	parent   *dirNode // nil for the root
	depth    int      // 0 for the root
	children map[string]*dirNode
	// hdr is the last entry that declared the directory, whose mode and times
	// it gets once every layer is applied; nil for one made as a parent.
	hdr *tar.Header
	// layer is the last layer that made the directory or anything under it.
	layer int
	// root is the directory, open while the node is on dirTree.open.
	root *os.Root
}

// dirTree holds the directories of a root filesystem and keeps open those
// from the root down to the directory last used. Layers list entries
// directory by directory, so the next entry's directory is most often open
// already or one level away: each entry costs a constant number of system
// calls whatever its depth, and every system call names one component of a
// directory held open, so nothing can be reached through a symlink.
type dirTree struct {
	top  *dirNode
	open []*dirNode // open[i] is at depth i; open[0] is top
	// last is the directory the last lookup found, of name lastName: the
	// next entry is most often in the same one. Only a removal can change
	// where a name that was found leads, and detach forgets it.
	last     *dirNode
	lastName string
}

func newDirTree(root *os.Root) *dirTree {
	top := &dirNode{root: root}
	return &dirTree{top: top, open: []*dirNode{top}}
}

// add adds n's subdirectory name to the tree.
func (n *dirNode) add(name string) *dirNode {
	if n.children == nil {
		n.children = map[string]*dirNode{}
	}
	c := &dirNode{name: name, parent: n, depth: n.depth + 1}
	n.children[name] = c
	return c
}

// path is n's path from the root, for messages.
func (n *dirNode) path() string {
	if n.parent == nil {
		return "."
	}
	var parts []string
	for ; n.parent != nil; n = n.parent {
		parts = append(parts, n.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// dir returns n's directory, opening those between it and the deepest open
// directory above it and closing the open ones below that.
func (t *dirTree) dir(n *dirNode) (*os.Root, error) {
	var chain []*dirNode
	a := n
	for ; a.depth >= len(t.open) || t.open[a.depth] != a; a = a.parent {
		chain = append(chain, a)
	}
	t.closeFrom(a.depth + 1)
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		r, err := c.parent.root.OpenRoot(c.name)
		if err != nil {
			return nil, err
		}
		c.root = r
		t.open = append(t.open, c)
	}
	return n.root, nil
}

// closeFrom closes the open directories at depth and below; depth is at least 1.
func (t *dirTree) closeFrom(depth int) {
	for _, n := range t.open[depth:] {
		n.root.Close()
		n.root = nil
	}
	t.open = t.open[:depth]
}

// detach tells the tree that name of n is being removed: a subdirectory
// leaves the tree, closed with what is under it.
func (t *dirTree) detach(n *dirNode, name string) {
	t.last = nil // name may be a symlink the last lookup went through
	c := n.children[name]
	if c == nil {
		return
	}
	if c.depth < len(t.open) && t.open[c.depth] == c {
		t.closeFrom(c.depth)
	}
	delete(n.children, name)
}

// close closes every open directory but the root's.
func (t *dirTree) close() { t.closeFrom(1) }

// lookup returns the directory name leads to, a clean relative path,
// following symlinks as the kernel would if the root filesystem were "/":
// ".." of the root is the root, and an absolute target starts again from
// it. Missing directories are made (mode 0755) when create is set; otherwise
// a missing one, or a file on the way, gives nil.
func (t *dirTree) lookup(name string, create bool) (*dirNode, error) {
	if t.last != nil && name == t.lastName {
		return t.last, nil
	}
	n := t.top
	todo := strings.Split(name, "/")
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if n.parent != nil {
				n = n.parent
			}
			continue
		}
		if child := n.children[c]; child != nil {
			n = child
			continue
		}
		dir, err := t.dir(n)
		if err != nil {
			return nil, err
		}
		fi, err := dir.Lstat(c)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if !create {
				return nil, nil
			}
			if err := dir.Mkdir(c, 0o755); err != nil {
				return nil, err
			}
			n = n.add(c)
		case err != nil:
			return nil, err
		case fi.IsDir():
			n = n.add(c)
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return nil, fmt.Errorf("%w: %q: more than %d symlinks, or a loop", archive.ErrBadLink, name, maxSymlinks)
			}
			target, err := dir.Readlink(c)
			if err != nil {
				return nil, err
			}
			if path.IsAbs(target) {
				n = t.top
			}
			todo = append(strings.Split(target, "/"), todo...)
		case !create:
			return nil, nil
		default:
			return nil, &fs.PathError{Op: "lookup", Path: path.Join(n.path(), c), Err: syscall.ENOTDIR}
		}
	}
	t.last, t.lastName = n, name
	return n, nil
}
