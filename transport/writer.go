package transport

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/pending"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/types"
)

// ArchiveWriter writes one archive file that several copies add images to;
// Commit finishes it and renames it into place. Images the file already held
// are kept unless an image of the same name replaces them, and their blobs
// are copied across rather than sent again.
type ArchiveWriter struct {
	path   string
	format archive.Format
	file   *pending.File  // nil when writing to stdout
	out    io.WriteCloser // compresses into file or stdout; Commit closes it
	w      *archive.Writer
	old    *archive.Reader // the archive being added to, or nil
	added  []addedImage
}

// addedImage is an image whose blobs and manifest are written, to list at Commit.
type addedImage struct {
	desc imgspecv1.Descriptor
	name string
}

// ArchiveOptions tune an ArchiveWriter.
type ArchiveOptions struct {
	Format      archive.Format      // as Options.Format
	Compression archive.Compression // as Options.Compression
	Replace     bool                // start afresh instead of keeping the images of an existing file
	Reader      archive.Options     // opens the existing file whose images are kept
	Delta       *archive.Delta      // as Options.Delta
}

// NewArchiveWriter starts writing the archive at path; "-" is stdout.
func NewArchiveWriter(sys *types.SystemContext, path string, opts ArchiveOptions) (*ArchiveWriter, error) {
	wopts, err := writerOptions(sys, opts.Format)
	if err != nil {
		return nil, err
	}
	wopts.Delta = opts.Delta
	a := &ArchiveWriter{path: path, format: opts.Format}
	if path == stdinPath {
		if a.out, err = archive.NewCompressor(struct{ io.Writer }{os.Stdout}, opts.Compression.For("")); err != nil { // never seek on stdout, even a redirected one
			return nil, err
		}
		a.w = archive.NewWriter(a.out, wopts)
		return a, nil
	}
	if err := refuseSymlink(path); err != nil {
		return nil, err
	}
	if !opts.Replace {
		if a.old, err = openExisting(path, readerOptions(opts.Reader, sys)); err != nil {
			return nil, err
		}
	}
	if a.file, err = pending.Create(path); err != nil {
		a.Close()
		return nil, err
	}
	if a.out, err = archive.NewCompressor(a.file, opts.Compression.For(path)); err != nil {
		a.Close()
		return nil, err
	}
	a.w = archive.NewWriter(a.out, wopts)
	return a, nil
}

// NewReference is a destination that adds an image named name ("" for none) to the archive.
func (a *ArchiveWriter) NewReference(name string) (types.ImageReference, error) {
	ref, err := NewReference(a.path, name)
	if err != nil {
		return nil, err
	}
	r := ref.(ociTarReference)
	r.writer = a
	return r, nil
}

// refuseSymlink refuses a destination path that is a symbolic link: the file
// is replaced by renaming, which would replace the link and leave its target
// stale, and writing through it would let a link planted in a shared directory
// redirect the write.
func refuseSymlink(path string) error {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		return fmt.Errorf("%s is a symbolic link (to %s); give the path of the file itself", path, target)
	}
	return nil
}

// openExisting opens the archive already at path, if any, to keep its images.
func openExisting(path string, opts archive.Options) (*archive.Reader, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	r, err := archive.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("%s exists and is not an image archive that can be added to (remove it to replace it): %w", path, err)
	}
	return r, nil
}

// writerOptions: entries are dated SOURCE_DATE_EPOCH, else 1970.
func writerOptions(sys *types.SystemContext, format archive.Format) (archive.WriterOptions, error) {
	opts := archive.WriterOptions{Format: format}
	if sys != nil {
		opts.TempDir = sys.BigFilesTemporaryDir
	}
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return opts, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", epoch)
		}
		opts.ModTime = time.Unix(sec, 0)
	}
	return opts, nil
}

// addImage records an image whose blobs and manifest are written, to list under name.
func (a *ArchiveWriter) addImage(desc imgspecv1.Descriptor, name string) {
	a.added = append(a.added, addedImage{desc, name})
}

// Commit lists the images, finishes the archive and renames it into place.
// The old archive's images keep their places, an added image of the same name
// taking the place of the one it replaces; the other added images follow.
func (a *ArchiveWriter) Commit() error {
	listed := make([]bool, len(a.added))
	if a.old != nil {
		for _, img := range a.old.Images() {
			if err := a.keepOrReplace(img, listed); err != nil {
				return fmt.Errorf("%s: %w", a.path, err)
			}
		}
	}
	for i, img := range a.added {
		if !listed[i] {
			if err := a.list(img); err != nil {
				return fmt.Errorf("%s: %w", a.path, err)
			}
		}
	}
	if err := a.w.Close(); err != nil {
		return fmt.Errorf("%s: %w", a.path, err)
	}
	if err := a.out.Close(); err != nil {
		return fmt.Errorf("%s: %w", a.path, err)
	}
	a.closeOld()
	if a.file != nil {
		return a.file.Commit()
	}
	return nil
}

func (a *ArchiveWriter) keepOrReplace(old archive.Image, listed []bool) error {
	name := old.Descriptor.Annotations[imgspecv1.AnnotationRefName]
	for i, img := range a.added {
		if name != "" && img.name == name {
			listed[i] = true
			return a.list(img)
		}
	}
	return a.w.CopyImage(a.old, old)
}

func (a *ArchiveWriter) list(img addedImage) error {
	var repoTags []string
	desc := img.desc
	if img.name != "" {
		desc.Annotations = archive.NameAnnotations(img.name)
		if tag, ok := archive.RepoTag(img.name); ok {
			repoTags = []string{tag}
		}
	}
	return a.w.AddImage(desc, repoTags)
}

// Close removes the file unless Commit renamed it into place.
func (a *ArchiveWriter) Close() error {
	a.closeOld()
	if a.file != nil {
		return a.file.Abort()
	}
	return nil
}

func (a *ArchiveWriter) closeOld() {
	if a.old != nil {
		a.old.Close()
		a.old = nil
	}
}
