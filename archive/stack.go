package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ocitar/ocitar/internal/compression"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// StackSeparator joins the paths of a stack's members: base.tar+delta.tar.
const StackSeparator = "+"

// StackMembers are the paths of the members of the stack path names, base
// first: path split at StackSeparator, unless a file of that name exists,
// which is then the only member.
func StackMembers(path string) []string {
	if !strings.Contains(path, StackSeparator) {
		return []string{path}
	}
	if _, err := os.Lstat(path); err == nil {
		return []string{path}
	}
	return strings.Split(path, StackSeparator)
}

// OpenStackFiles opens the archives at paths and reads them as one stack,
// base first (OpenStack).
func OpenStackFiles(paths []string, opts Options) (*Reader, error) {
	members := make([]*Reader, 0, len(paths))
	for _, p := range paths {
		m, err := Open(p, opts)
		if err != nil {
			closeAll(members)
			return nil, err
		}
		members = append(members, m)
	}
	return OpenStack(members, opts)
}

// VerifyStack is Verify of the stack of the archives at paths, base first:
// every blob of every image it shows is present in a member and right.
func VerifyStack(paths []string, opts Options) Report {
	return verifyOpened(strings.Join(paths, StackSeparator), func(opts Options) (*Reader, error) { return OpenStackFiles(paths, opts) }, opts)
}

func closeAll(readers []*Reader) {
	for _, r := range readers {
		r.Close()
	}
}

// OpenStack reads archives as one, a stack whose later members win: a name
// that an image of a later member bears is no longer a name of the images
// of earlier ones (Options.Notice says so), and a blob is read from the
// last member that holds it. A delta, which holds only the blobs its bases
// lack, is read on top of its bases so. The stack is an OCI layout: an
// index.json of the images it shows, and the blobs of every member.
//
// The Reader owns members: its Close closes them, and so does OpenStack
// when it fails.
func OpenStack(members []*Reader, opts Options) (*Reader, error) {
	files, err := newStackFiles(members, opts)
	if err == nil {
		var r *Reader
		if r, err = newFilesReader(files, files.name, opts); err == nil {
			for _, m := range members {
				r.closers = append(r.closers, m.Close)
			}
			return r, nil
		}
	}
	closeAll(members)
	return nil, err
}

// stackFiles are the files of a stack's layout: its own oci-layout and
// index.json, and each blob of its members, read through the member that
// serves it.
type stackFiles struct {
	name    string
	members []*Reader
	index   []byte
	holders map[digest.Digest]*Reader // the last member that holds each blob
	list    []Entry
}

var stackLayout = []byte(`{"imageLayoutVersion":"1.0.0"}`)

func newStackFiles(members []*Reader, opts Options) (*stackFiles, error) {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.name
	}
	f := &stackFiles{name: strings.Join(names, StackSeparator), members: members, holders: map[digest.Digest]*Reader{}}
	if err := checkDistinct(names); err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	if err := checkBases(members); err != nil {
		return nil, err
	}
	index, err := json.Marshal(stackIndex(members, opts))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	f.index = index
	f.list = []Entry{{Name: ociLayoutFile, Type: tar.TypeReg, Size: int64(len(stackLayout))}, {Name: indexFile, Type: tar.TypeReg, Size: int64(len(index))}}
	sizes := map[*Reader]map[string]int64{}
	for _, m := range members {
		sizes[m] = m.entrySizes()
		for _, d := range m.servedDigests() {
			f.holders[d] = m
		}
	}
	for _, d := range sortedDigests(f.holders) {
		m := f.holders[d]
		f.list = append(f.list, Entry{Name: blobsDir + "/" + d.Algorithm().String() + "/" + d.Encoded(), Type: tar.TypeReg, Size: m.storedSize(d, sizes[m])})
	}
	return f, nil
}

// checkDistinct refuses a stack that names one archive twice.
func checkDistinct(names []string) error {
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("%w: it names %s twice", ErrBadStack, n)
		}
	}
	return nil
}

// checkBases refuses a stack in which a delta sits on an archive of the
// name of one of its recorded bases but of another identity: an archive of
// another month, say. A recorded base the stack lacks is no error: its
// blobs are missing, and reading them says which base holds them.
func checkBases(members []*Reader) error {
	for i, m := range members {
		bases, err := m.Bases()
		if err != nil {
			return err
		}
		for _, b := range bases {
			if err := checkBase(m, b, members[:i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkBase checks the archives below delta that have the name of its base b.
func checkBase(delta *Reader, b Base, below []*Reader) error {
	if b.Kind == BaseRegistry {
		return nil
	}
	for _, m := range below {
		if fileName(m.name) != b.Name {
			continue
		}
		id, err := m.Identity()
		if err != nil {
			return err
		}
		if id != b.Identity {
			return fmt.Errorf("%s: %w: %s records its base %s as %s, and %s is %s", m.name, ErrWrongBase, delta.name, b.Name, b.Identity, m.name, id)
		}
	}
	return nil
}

// stackIndex is the index.json of the stack: each image of each member
// under each of its names that no later member's image bears, and the
// images without a name.
func stackIndex(members []*Reader, opts Options) ocispec.Index {
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	for i, m := range members {
		for _, img := range m.images {
			if len(img.Names) == 0 {
				index.Manifests = append(index.Manifests, stackDescriptor(img, ""))
			}
			var shown []string
			for _, name := range img.Names {
				if slices.ContainsFunc(shown, func(n string) bool { return nameMatches(n, name) }) {
					continue
				}
				if by, same := namedLater(members[i+1:], name, img.Descriptor.Digest); by != nil {
					if !same {
						opts.notice("%s: the image of %s hides that of %s", name, by.name, m.name)
					}
					continue
				}
				shown = append(shown, name)
				index.Manifests = append(index.Manifests, stackDescriptor(img, name))
			}
		}
	}
	return index
}

// namedLater is the last of members with an image named name, or nil, and
// whether that image is the manifest d.
func namedLater(members []*Reader, name string, d digest.Digest) (*Reader, bool) {
	for i := len(members) - 1; i >= 0; i-- {
		for _, img := range members[i].images {
			if slices.ContainsFunc(img.Names, func(n string) bool { return nameMatches(n, name) }) {
				return members[i], img.Descriptor.Digest == d
			}
		}
	}
	return nil, false
}

// stackDescriptor is img's descriptor in the stack's index.json, named name.
func stackDescriptor(img Image, name string) ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: img.Descriptor.MediaType, Digest: img.Descriptor.Digest, Size: img.Descriptor.Size, Platform: img.Descriptor.Platform}
	if name != "" {
		d.Annotations = NameAnnotations(name)
	}
	return d
}

// servedDigests are the digests r serves: its blobs and the manifests it made.
func (r *Reader) servedDigests() []digest.Digest {
	ds := make([]digest.Digest, 0, len(r.blobs)+len(r.synthetic))
	for d := range r.blobs {
		ds = append(ds, d)
	}
	for d := range r.synthetic {
		ds = append(ds, d)
	}
	return ds
}

// storedSize is the size of blob d as r serves it, -1 until it is read;
// sizes are those of r's entries, by name.
func (r *Reader) storedSize(d digest.Digest, sizes map[string]int64) int64 {
	if b, ok := r.synthetic[d]; ok {
		return int64(len(b))
	}
	src := r.blobs[d]
	if size, ok := sizes[src.entry]; ok && src.decompress == compression.Uncompressed {
		return size
	}
	return src.size
}

// entrySizes are the sizes of r's regular files, by name.
func (r *Reader) entrySizes() map[string]int64 {
	sizes := map[string]int64{}
	for _, e := range r.files.entries() {
		if e.Type == tar.TypeReg {
			sizes[e.Name] = e.Size
		}
	}
	return sizes
}

func sortedDigests(m map[digest.Digest]*Reader) []digest.Digest {
	ds := make([]digest.Digest, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}

func (f *stackFiles) entries() []Entry { return f.list }

func (f *stackFiles) has(name string) bool {
	if name == indexFile || name == ociLayoutFile {
		return true
	}
	d, ok := layoutBlobDigest(name)
	return ok && f.holders[d] != nil
}

// open reads a blob through the member that holds it, which verifies it.
func (f *stackFiles) open(name string) (io.ReadCloser, int64, error) {
	switch name {
	case indexFile:
		return io.NopCloser(bytes.NewReader(f.index)), int64(len(f.index)), nil
	case ociLayoutFile:
		return io.NopCloser(bytes.NewReader(stackLayout)), int64(len(stackLayout)), nil
	}
	d, ok := layoutBlobDigest(name)
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", ErrMissingBlob, name)
	}
	return f.openBlob(d)
}

func (f *stackFiles) readFile(name string, limit int64) ([]byte, error) {
	rc, size, err := f.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, name, size, limit)
	}
	return io.ReadAll(rc)
}

// openBlob is blob d, as the member that holds it verifies it.
func (f *stackFiles) openBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	m := f.holders[d]
	if m == nil {
		return nil, 0, fmt.Errorf("%s: %w", f.name, missingBlob(d, f.members))
	}
	return m.OpenBlob(d)
}

// members are the archives r reads: those of a stack, else r.
func (r *Reader) members() []*Reader {
	if stack, ok := r.files.(*stackFiles); ok {
		return stack.members
	}
	return []*Reader{r}
}

// missingBlob is the error for a blob d that members lack: when they are
// deltas, it names the bases they record that are not among them.
func missingBlob(d digest.Digest, members []*Reader) error {
	var absent []string
	for _, m := range members {
		bases, _ := m.Bases()
		for _, b := range bases {
			if !slices.ContainsFunc(members, b.isArchive) {
				absent = append(absent, fmt.Sprintf("%s records its base %s, to be read as %s%s%s", fileName(m.name), b, b.Name, StackSeparator, fileName(m.name)))
			}
		}
	}
	if len(absent) == 0 {
		return fmt.Errorf("%w: %s", ErrMissingBlob, d)
	}
	return fmt.Errorf("%w: %s, which a base holds: %s", ErrMissingBlob, d, strings.Join(absent, "; "))
}

// section is the blob d as the member that holds it stores it.
func (f *stackFiles) section(d digest.Digest) (*io.SectionReader, error) {
	m := f.holders[d]
	if m == nil {
		return nil, fmt.Errorf("%s: %w", f.name, missingBlob(d, f.members))
	}
	return m.BlobSection(d)
}
