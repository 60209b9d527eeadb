package archive

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/ocitar/ocitar/internal/testimage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// extractTar unpacks the regular files, directories and symlinks of the tar at path into a new directory.
func extractTar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(hdr.Linkname, target)
		case tar.TypeReg:
			err = writeAll(target, tr)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func writeAll(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readBlobs reads every blob of every image of r through OpenBlob, verified.
func readBlobs(t *testing.T, r *Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, img := range r.Images() {
		for _, b := range img.Blobs {
			rc, _, err := r.OpenBlob(b.Digest)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[b.Digest.String()] = string(data)
		}
	}
	return out
}

func TestOpenDir(t *testing.T) {
	for _, archive := range []string{
		"../testdata/sample-multi.oci.tar",
		"../testdata/sample.docker.tar",
		"../testdata/peers/c-oci-multi.skopeo.tar",
		"../testdata/peers/a-docker-2layer.docker20.tar",
	} {
		t.Run(filepath.Base(archive), func(t *testing.T) {
			want, err := Open(archive, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			got, err := OpenDir(extractTar(t, archive), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if !slices.EqualFunc(got.Images(), want.Images(), sameImage) {
				t.Errorf("images of the directory:\n%v\nof the archive:\n%v", got.Images(), want.Images())
			}
			gotBlobs, wantBlobs := readBlobs(t, got), readBlobs(t, want)
			if len(gotBlobs) == 0 || len(gotBlobs) != len(wantBlobs) {
				t.Fatalf("%d blobs in the directory, %d in the archive", len(gotBlobs), len(wantBlobs))
			}
			for d, data := range wantBlobs {
				if gotBlobs[d] != data {
					t.Errorf("blob %s differs", d)
				}
			}
		})
	}
}

func sameImage(a, b Image) bool {
	return a.Descriptor.Digest == b.Descriptor.Digest && slices.Equal(a.Names, b.Names) && a.Size == b.Size &&
		slices.EqualFunc(a.Platforms, b.Platforms, func(p, q ocispec.Platform) bool { return PlatformString(p) == PlatformString(q) })
}

func TestOpenDirRefusesLinksOut(t *testing.T) {
	outside := writeFile(t, "layer", []byte("the layer"))
	tests := []struct {
		name    string
		link    func(b *testimage.Layout) string // the file replaced by a link to outside
		openErr bool
	}{
		{"layer", func(b *testimage.Layout) string {
			return "blobs/sha256/" + b.Blob("", []byte("the layer")).Digest.Encoded()
		}, false},
		{"index.json", func(*testimage.Layout) string { return indexFile }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testimage.Layout{}
			b.Index(b.Image("amd64", "the layer"))
			dir := extractTar(t, writeFile(t, "x.tar", b.Tar(t)))
			linked := filepath.Join(dir, tt.link(b))
			if err := os.Remove(linked); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, linked); err != nil {
				t.Fatal(err)
			}
			r, err := OpenDir(dir, Options{})
			if tt.openErr {
				if !errors.Is(err, ErrBadLink) {
					t.Fatalf("OpenDir: %v, want %v", err, ErrBadLink)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, _, err := r.OpenBlob(b.Blob("", []byte("the layer")).Digest); !errors.Is(err, ErrBadLink) {
				t.Errorf("OpenBlob: %v, want %v", err, ErrBadLink)
			}
		})
	}
}

func TestOpenDirRefusesFifos(t *testing.T) {
	layer := func(b *testimage.Layout) string {
		return "blobs/sha256/" + b.Blob("", []byte("the layer")).Digest.Encoded()
	}
	tests := []struct {
		name    string
		file    func(b *testimage.Layout) string // the file made a fifo
		link    bool                             // a link to a fifo beside it, rather than a fifo
		openErr bool
	}{
		{"index.json", func(*testimage.Layout) string { return indexFile }, false, true},
		{"oci-layout", func(*testimage.Layout) string { return ociLayoutFile }, false, true},
		{"index.json linked", func(*testimage.Layout) string { return indexFile }, true, true},
		{"layer linked", layer, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &testimage.Layout{}
			b.Index(b.Image("amd64", "the layer"))
			dir := extractTar(t, writeFile(t, "x.tar", b.Tar(t)))
			path := filepath.Join(dir, tt.file(b))
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			fifo := path
			if tt.link {
				fifo = filepath.Join(dir, "fifo")
				target, _ := filepath.Rel(filepath.Dir(path), fifo)
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
			}
			// Nothing ever writes to the fifo: opening it to read blocks forever.
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := OpenDir(dir, Options{})
			if !tt.openErr && err == nil {
				defer r.Close()
				_, _, err = r.OpenBlob(b.Blob("", []byte("the layer")).Digest)
			}
			if !errors.Is(err, ErrUnsupportedEntry) {
				t.Errorf("a fifo for %s: %v, want %v", tt.name, err, ErrUnsupportedEntry)
			}
		})
	}
}

// unreadableDirFS is a file system one of whose directories cannot be read.
type unreadableDirFS struct {
	fstest.MapFS
	dir string
}

func (f unreadableDirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == f.dir {
		return nil, &fs.PathError{Op: "readdirent", Path: name, Err: fs.ErrPermission}
	}
	return f.MapFS.ReadDir(name)
}

func TestListFiles(t *testing.T) {
	files := fstest.MapFS{
		"index.json":      {Data: []byte("{}")},
		"blobs/sha256/ab": {Data: []byte("blob")},
		"link":            {Data: []byte("index.json"), Mode: fs.ModeSymlink},
		"fifo":            {Mode: fs.ModeNamedPipe},
	}
	tests := []struct {
		name       string
		unreadable string
		want       []string
		err        error
	}{
		{"readable", "", []string{"blobs", "blobs/sha256", "blobs/sha256/ab", "index.json", "link"}, nil},
		{"a directory unreadable", "blobs/sha256", nil, fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := listFiles(unreadableDirFS{files, tt.unreadable})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.unreadable) {
					t.Fatalf("got %v, want %v naming %s", err, tt.err, tt.unreadable)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range list {
				names = append(names, e.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("listed %v, want %v", names, tt.want)
			}
		})
	}
}
