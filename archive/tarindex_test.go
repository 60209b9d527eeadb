package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// readerSegment is one part of a segmentedReaderAt: data, or zeros bytes of zeros
// when data is nil.
type readerSegment struct {
	data  []byte
	zeros int64
}

func (s readerSegment) size() int64 {
	if s.data != nil {
		return int64(len(s.data))
	}
	return s.zeros
}

// segmentedReaderAt is an io.ReaderAt over a concatenation of segments whose zero
// ranges are generated on the fly, so that a test can index a tar larger than memory.
type segmentedReaderAt struct {
	segs  []readerSegment
	start []int64 // offset of each segment
	size  int64
}

func newSegmentedReaderAt(segs ...readerSegment) *segmentedReaderAt {
	s := &segmentedReaderAt{segs: segs}
	for _, seg := range segs {
		s.start = append(s.start, s.size)
		s.size += seg.size()
	}
	return s
}

func (s *segmentedReaderAt) Size() int64 { return s.size }

func (s *segmentedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("segmentedReaderAt: negative offset")
	}
	if off >= s.size {
		return 0, io.EOF
	}
	i := sort.Search(len(s.start), func(i int) bool { return s.start[i] > off }) - 1
	n := 0
	for ; n < len(p) && i < len(s.segs); i++ {
		seg := s.segs[i]
		rel := off + int64(n) - s.start[i]
		if rel >= seg.size() {
			continue
		}
		k := int(min(int64(len(p)-n), seg.size()-rel))
		if seg.data != nil {
			copy(p[n:n+k], seg.data[rel:])
		} else {
			clear(p[n : n+k])
		}
		n += k
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// bytes returns the whole content; only for small archives.
func (s *segmentedReaderAt) bytes() []byte {
	out := make([]byte, s.size)
	if _, err := s.ReadAt(out, 0); err != nil && err != io.EOF {
		panic(err)
	}
	return out
}

// countingReaderAt counts the bytes its ReadAt returns.
type countingReaderAt struct {
	ra io.ReaderAt
	n  int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// virtualTar writes a tar with archive/tar, except that the data of zeroFile
// entries is a zero range of the result, never stored.
type virtualTar struct {
	t      *testing.T
	format tar.Format // of the headers that do not choose one
	buf    *bytes.Buffer
	tw     *tar.Writer
	segs   []readerSegment
}

func newVirtualTar(t *testing.T) *virtualTar {
	buf := &bytes.Buffer{}
	return &virtualTar{t: t, buf: buf, tw: tar.NewWriter(buf)}
}

// entry writes hdr and body; a regular file's size is the body's.
func (v *virtualTar) entry(hdr *tar.Header, body string) {
	v.t.Helper()
	v.rawEntry(hdr, body, nil)
}

// rawEntry writes hdr and body, and lets patch change the last header block
// before the body is written.
func (v *virtualTar) rawEntry(hdr *tar.Header, body string, patch func(block []byte)) {
	v.t.Helper()
	if hdr.Format == tar.FormatUnknown {
		hdr.Format = v.format
	}
	if hdr.Mode == 0 && hdr.Typeflag != tar.TypeXGlobalHeader {
		hdr.Mode = 0o644
	}
	if hdr.Typeflag == tar.TypeReg {
		hdr.Size = int64(len(body))
	}
	if err := v.tw.WriteHeader(hdr); err != nil {
		v.t.Fatalf("writing header %q: %v", hdr.Name, err)
	}
	if patch != nil {
		b := v.buf.Bytes()
		patch(b[len(b)-512:])
	}
	if _, err := io.WriteString(v.tw, body); err != nil {
		v.t.Fatalf("writing %q: %v", hdr.Name, err)
	}
	if err := v.tw.Flush(); err != nil {
		v.t.Fatalf("writing %q: %v", hdr.Name, err)
	}
}

func (v *virtualTar) reg(name, body string) {
	v.t.Helper()
	v.entry(&tar.Header{Name: name, Typeflag: tar.TypeReg}, body)
}

func (v *virtualTar) dir(name string) {
	v.t.Helper()
	v.entry(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}, "")
}

func (v *virtualTar) symlink(name, target string) {
	v.t.Helper()
	v.entry(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}, "")
}

func (v *virtualTar) hardlink(name, target string) {
	v.t.Helper()
	v.entry(&tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}, "")
}

// zeroFile writes the header of a regular file of hdr.Size zero bytes, which the
// result generates on the fly.
func (v *virtualTar) zeroFile(hdr *tar.Header) {
	v.t.Helper()
	hdr.Typeflag = tar.TypeReg
	if hdr.Format == tar.FormatUnknown {
		hdr.Format = v.format
	}
	if err := v.tw.WriteHeader(hdr); err != nil {
		v.t.Fatalf("writing header %q: %v", hdr.Name, err)
	}
	// The writer now waits for the data, which it will never get: keep the
	// header bytes and carry on with a fresh writer.
	v.segs = append(v.segs, readerSegment{data: bytes.Clone(v.buf.Bytes())})
	v.segs = append(v.segs, readerSegment{zeros: hdr.Size + (-hdr.Size)&511})
	v.buf = &bytes.Buffer{}
	v.tw = tar.NewWriter(v.buf)
}

// finish writes the end-of-archive blocks and returns the archive.
func (v *virtualTar) finish() *segmentedReaderAt {
	v.t.Helper()
	if err := v.tw.Close(); err != nil {
		v.t.Fatal(err)
	}
	return newSegmentedReaderAt(append(v.segs, readerSegment{data: v.buf.Bytes()})...)
}

// setTypeflag changes the type of a header block and updates its checksum.
func setTypeflag(block []byte, flag byte) {
	block[156] = flag
	copy(block[148:156], "        ")
	sum := 0
	for _, c := range block[:512] {
		sum += int(c)
	}
	copy(block[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// paxRecord formats one record of a PAX extended header.
func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3 // ' ', '=', '\n'
	size := n + len(strconv.Itoa(n))
	if len(strconv.Itoa(size)) > len(strconv.Itoa(n)) {
		size = n + len(strconv.Itoa(size))
	}
	return strconv.Itoa(size) + " " + k + "=" + v + "\n"
}

// paxHeader writes a PAX extended header of records for the next entry by
// hand, since archive/tar drops the GNU.sparse records it is given.
func (v *virtualTar) paxHeader(records ...string) {
	v.t.Helper()
	v.rawEntry(&tar.Header{Name: "PaxHeaders.0/file", Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}, strings.Join(records, ""),
		func(block []byte) { setTypeflag(block, tar.TypeXHeader) })
}

// sequentialEntry is an entry as archive/tar's sequential reader gives it.
type sequentialEntry struct {
	name string // cleaned
	hdr  *tar.Header
	data []byte // nil when the entry was too large to read
}

// readSequentially lists the entries of a tar with archive/tar's Reader, reading
// the data of the regular files up to 1 MiB.
func readSequentially(t *testing.T, ra io.ReaderAt, size int64) []sequentialEntry {
	t.Helper()
	tr := tar.NewReader(io.NewSectionReader(ra, 0, size))
	var out []sequentialEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("archive/tar: %v", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // records for the entries that follow, not an entry
		}
		e := sequentialEntry{name: path.Clean(hdr.Name), hdr: hdr}
		if hdr.Typeflag == tar.TypeReg && hdr.Size <= 1<<20 {
			if e.data, err = io.ReadAll(tr); err != nil {
				t.Fatalf("archive/tar: reading %q: %v", hdr.Name, err)
			}
		}
		out = append(out, e)
	}
}

func TestIndexTarMatchesSequentialRead(t *testing.T) {
	longName := strings.Repeat("long-component-", 8) + "end"      // 123 bytes, one component
	longTarget := "targets/" + strings.Repeat("link-target-", 10) // 128 bytes
	tests := []struct {
		name  string
		build func(v *virtualTar)
	}{
		{"ustar", func(v *virtualTar) {
			v.format = tar.FormatUSTAR
			v.dir("dir/")
			v.reg("dir/a.txt", "hello")
			v.reg("b", strings.Repeat("0123456789", 300))
			v.reg("empty", "")
		}},
		{"pax long and non-ASCII names and records", func(v *virtualTar) {
			v.format = tar.FormatPAX
			v.entry(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "git"}}, "")
			v.reg("pax/"+longName, "long name")
			v.reg("pax/ünïcødé/名前.txt", "non-ASCII name")
			v.entry(&tar.Header{Name: "pax/records", Typeflag: tar.TypeReg, PAXRecords: map[string]string{
				"comment": "a comment", "SCHILY.xattr.user.mime": "text/plain",
			}}, "with records")
			v.symlink("pax/link-"+longName, longName)
		}},
		{"gnu long names and link names", func(v *virtualTar) {
			v.format = tar.FormatGNU
			v.reg(longTarget, "the target")
			v.reg("gnu/"+longName, "long name")
			v.symlink("gnu/sym-"+longName, "../"+longTarget)
			v.hardlink("gnu/hard-"+longName, longTarget)
			v.hardlink("gnu/hard", "gnu/"+longName)
		}},
		{"dot-slash names", func(v *virtualTar) {
			v.dir("./")
			v.reg("./oci-layout", `{"imageLayoutVersion":"1.0.0"}`)
			v.dir("./blobs/")
			v.dir("./blobs/sha256/")
			v.reg("./blobs/sha256/"+digest.FromString("x").Encoded(), "x")
			v.reg("./index.json", "{}")
		}},
		{"directories, links, devices and empty files", func(v *virtualTar) {
			v.dir("d/")
			v.reg("d/f", "file")
			v.reg("d/zero", "")
			v.symlink("d/sym", "f")
			v.hardlink("hard", "d/f")
			v.hardlink("hard-to-empty", "d/zero")
			v.entry(&tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}, "")
			v.entry(&tar.Header{Name: "fifo", Typeflag: tar.TypeFifo}, "")
		}},
		{"duplicate names, the last wins", func(v *virtualTar) {
			v.reg("dup", "first")
			v.reg("other", "other")
			v.reg("./dup", "second")
		}},
		{"9 GiB entry in PAX, then a small file", func(v *virtualTar) {
			v.format = tar.FormatPAX
			v.reg("before", "before")
			v.zeroFile(&tar.Header{Name: "huge", Size: 9 << 30})
			v.reg("after", "the entry after 9 GiB")
		}},
		{"9 GiB entry in GNU, then a small file", func(v *virtualTar) {
			v.format = tar.FormatGNU
			v.zeroFile(&tar.Header{Name: "huge", Size: 9<<30 + 5})
			v.reg("after", "the entry after 9 GiB and 5 bytes")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVirtualTar(t)
			tt.build(v)
			ra := v.finish()
			idx, _, err := indexTar(ra, ra.Size(), Options{})
			if err != nil {
				t.Fatalf("indexTar: %v", err)
			}

			// The index holds the last entry of each name, in the order of the first.
			want := map[string]sequentialEntry{}
			var order []string
			for _, e := range readSequentially(t, ra, ra.Size()) {
				if e.name == "." {
					continue
				}
				if _, ok := want[e.name]; !ok {
					order = append(order, e.name)
				}
				want[e.name] = e
			}
			if !slices.Equal(idx.order, order) {
				t.Errorf("index order %q, archive/tar gives %q", idx.order, order)
			}
			if len(idx.entries) != len(want) {
				t.Errorf("index has %d entries, archive/tar gives %d", len(idx.entries), len(want))
			}
			compared := 0
			for name, w := range want {
				e, ok := idx.entries[name]
				if !ok {
					t.Errorf("%q missing from the index", name)
					continue
				}
				if e.Name != name || e.Type != w.hdr.Typeflag || e.Linkname != w.hdr.Linkname {
					t.Errorf("index has %q type %q link %q; archive/tar gives %q type %q link %q",
						e.Name, e.Type, e.Linkname, name, w.hdr.Typeflag, w.hdr.Linkname)
				}
				if w.hdr.Typeflag != tar.TypeReg {
					continue
				}
				if e.Size != w.hdr.Size {
					t.Errorf("%q: index size %d, archive/tar gives %d", name, e.Size, w.hdr.Size)
				}
				if w.data == nil {
					continue // too large to read; its successors check the offsets
				}
				got, err := io.ReadAll(io.NewSectionReader(ra, e.Offset, e.Size))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, w.data) {
					t.Errorf("%q at offset %d: index reads %q, archive/tar reads %q", name, e.Offset, got, w.data)
				}
				compared++
			}
			if compared == 0 {
				t.Error("no file content was compared")
			}
		})
	}
}

func TestTarIndexResolve(t *testing.T) {
	v := newVirtualTar(t)
	v.reg("./blobs/sha256/"+digest.FromString("layer").Encoded(), "layer")
	v.reg("./fc26.tar", "fc26")
	v.dir("abc/")
	v.symlink("abc/layer.tar", "../fc26.tar") // as skopeo's docker-archive writes
	v.hardlink("hard", "./fc26.tar")
	v.symlink("chain/1", "2")
	v.hardlink("chain/2", "chain/3")
	v.symlink("chain/3", "../abc/layer.tar")
	for i := range 17 { // links/i -> i+1, links/17 a file
		v.symlink(fmt.Sprintf("links/%d", i), strconv.Itoa(i+1))
	}
	v.reg("links/17", "end of 17 links")
	v.reg("etc/passwd", "not the host's") // what an absolute link must not reach
	v.symlink("deep/escape", "../../x")
	v.symlink("absolute", "/etc/passwd")
	v.hardlink("hard-escape", "../x")
	v.hardlink("hard-absolute", "/etc/passwd")
	v.symlink("loop/a", "b")
	v.symlink("loop/b", "a")
	v.symlink("dangling", "nowhere")
	v.dir("dir/")
	v.symlink("to-dir", "dir")
	v.entry(&tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}, "")
	v.symlink("to-char", "dev/null")
	ra := v.finish()
	idx, _, err := indexTar(ra, ra.Size(), Options{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		want string // content of the file name resolves to, or what the error says
		err  error  // the error kind, or nil
	}{
		{"blobs/sha256/" + digest.FromString("layer").Encoded(), "layer", nil},
		{"fc26.tar", "fc26", nil},
		{"abc/layer.tar", "fc26", nil},
		{"hard", "fc26", nil},
		{"chain/1", "fc26", nil},
		{"links/1", "end of 17 links", nil}, // 16 links
		{"links/0", "loop", ErrBadLink},     // 17 links
		{"deep/escape", "outside the archive", ErrBadLink},
		{"absolute", "outside the archive", ErrBadLink},
		{"hard-escape", "outside the archive", ErrBadLink},
		{"hard-absolute", "outside the archive", ErrBadLink},
		{"loop/a", "loop", ErrBadLink},
		{"dangling", "lacks", ErrBadLink},
		{"absent", "absent", ErrMissingEntry},
		{"./fc26.tar", "./fc26.tar", ErrMissingEntry}, // names are looked up cleaned
		{"dir", "not a regular file", ErrUnsupportedEntry},
		{"to-dir", "not a regular file", ErrUnsupportedEntry},
		{"to-char", "not a regular file", ErrUnsupportedEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := idx.resolve(tt.name, false)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("resolve: %v, want %v saying %q", err, tt.err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if e.Type != tar.TypeReg {
				t.Fatalf("resolved to %q of type %q", e.Name, e.Type)
			}
			got, err := io.ReadAll(io.NewSectionReader(ra, e.Offset, e.Size))
			if err != nil || string(got) != tt.want {
				t.Errorf("resolved to %q holding %q, %v; want %q", e.Name, got, err, tt.want)
			}
		})
	}
}

func TestIndexTarRejects(t *testing.T) {
	blob := "blobs/sha256/" + digest.FromString("blob").Encoded()
	tests := []struct {
		name string
		tar  func(v *virtualTar) []byte
		err  error  // the error kind, or nil
		blob string // when err is nil, the content blob must have
	}{
		{"absolute name", func(v *virtualTar) []byte {
			v.reg("/etc/passwd", "root")
			return v.finish().bytes()
		}, ErrUnsafeEntry, ""},
		{"name escaping with ..", func(v *virtualTar) []byte {
			v.reg("a/../../x", "x")
			return v.finish().bytes()
		}, ErrUnsafeEntry, ""},
		{"old GNU sparse file", func(v *virtualTar) []byte {
			v.rawEntry(&tar.Header{Name: "sparse", Typeflag: tar.TypeReg, Format: tar.FormatGNU}, "data", func(b []byte) {
				copy(b[386:], "00000000000\x0000000000004\x00") // one sparse entry: offset 0, 4 bytes
				copy(b[483:], "00000000004\x00")                // real size
				setTypeflag(b, tar.TypeGNUSparse)
			})
			return v.finish().bytes()
		}, ErrUnsupportedEntry, ""},
		{"PAX GNU sparse 0.1", func(v *virtualTar) []byte {
			v.paxHeader(paxRecord("GNU.sparse.major", "0"), paxRecord("GNU.sparse.minor", "1"),
				paxRecord("GNU.sparse.name", "sparse"), paxRecord("GNU.sparse.size", "4"),
				paxRecord("GNU.sparse.numblocks", "1"), paxRecord("GNU.sparse.map", "0,4"))
			v.reg("GNUSparseFile.0/sparse", "data")
			return v.finish().bytes()
		}, ErrUnsupportedEntry, ""},
		{"PAX GNU sparse 1.0", func(v *virtualTar) []byte {
			v.paxHeader(paxRecord("GNU.sparse.major", "1"), paxRecord("GNU.sparse.minor", "0"),
				paxRecord("GNU.sparse.name", "sparse"), paxRecord("GNU.sparse.realsize", "4"))
			sparseMap := "1\n0\n4\n"
			v.reg("GNUSparseFile.0/sparse", sparseMap+strings.Repeat("\x00", 512-len(sparseMap))+"data")
			return v.finish().bytes()
		}, ErrUnsupportedEntry, ""},
		{"duplicate index.json", func(v *virtualTar) []byte {
			v.reg("index.json", `{"manifests":[]}`)
			v.reg("index.json", `{"manifests":[]}`)
			return v.finish().bytes()
		}, ErrAmbiguousEntry, ""},
		{"duplicate manifest.json, once with ./", func(v *virtualTar) []byte {
			v.reg("manifest.json", "[]")
			v.reg("./manifest.json", "[]")
			return v.finish().bytes()
		}, ErrAmbiguousEntry, ""},
		{"random bytes", func(*virtualTar) []byte {
			b := make([]byte, 4096)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		}, ErrNotArchive, ""},
		{"empty file", func(*virtualTar) []byte { return nil }, ErrNotArchive, ""},
		{"truncated in entry data", func(v *virtualTar) []byte {
			v.reg("first", "first")
			v.reg("big", strings.Repeat("b", 3000))
			v.reg("last", "last")
			return v.finish().bytes()[:1024+512+1500]
		}, ErrNotArchive, ""},
		{"truncated in a header", func(v *virtualTar) []byte {
			v.reg("first", "first")
			v.reg("second", "second")
			return v.finish().bytes()[:1024+300]
		}, ErrNotArchive, ""},
		{"truncated after an entry, without end-of-archive blocks", func(v *virtualTar) []byte {
			v.reg("first", "first")
			v.reg("second", "second")
			return v.finish().bytes()[:2048]
		}, ErrNotArchive, ""},
		{"PAX global header named like GNU tar's", func(v *virtualTar) []byte {
			v.entry(&tar.Header{Name: "/tmp/GlobalHead.1", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "hello"}, Format: tar.FormatPAX}, "")
			v.reg(blob, "blob")
			return v.finish().bytes()
		}, nil, "blob"},
		{"duplicate blob, the last wins", func(v *virtualTar) []byte {
			v.reg(blob, "first")
			v.reg("index.json", "{}")
			v.reg("./"+blob, "second")
			return v.finish().bytes()
		}, nil, "second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.tar(newVirtualTar(t))
			ra := bytes.NewReader(data)
			idx, _, err := indexTar(ra, int64(len(data)), Options{})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("indexTar: %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("indexTar: %v", err)
			}
			e, err := idx.resolve(blob, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(io.NewSectionReader(ra, e.Offset, e.Size))
			if err != nil || string(got) != tt.blob {
				t.Errorf("%s holds %q, %v; want %q", blob, got, err, tt.blob)
			}
		})
	}
}

func TestIndexTarReadsOnlyHeaders(t *testing.T) {
	v := newVirtualTar(t)
	v.reg("oci-layout", `{"imageLayoutVersion":"1.0.0"}`)
	for i := range 8 {
		v.zeroFile(&tar.Header{Name: fmt.Sprintf("blobs/sha256/layer%d", i), Size: 64<<20 + int64(i)})
	}
	v.reg("index.json", `{"manifests":[]}`)
	v.reg("last", "last")
	ra := v.finish()
	if ra.Size() < 500<<20 {
		t.Fatalf("the archive is only %d bytes", ra.Size())
	}
	counter := &countingReaderAt{ra: ra}
	idx, n, err := indexTar(counter, ra.Size(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.entries) != 11 {
		t.Errorf("%d entries, want 11", len(idx.entries))
	}
	if n >= 1<<20 || counter.n >= 1<<20 {
		t.Errorf("indexing %d bytes read %d bytes (%d by ReadAt), want less than 1 MiB", ra.Size(), n, counter.n)
	}
	if n != counter.n {
		t.Errorf("indexTar reports %d bytes read, ReadAt returned %d", n, counter.n)
	}
	t.Logf("indexing %d bytes read %d", ra.Size(), n)
}

// dataRefusing fails every read that touches the data of an entry, as the
// content of a compressed archive fails a read of a frame that does not decode.
type dataRefusing struct {
	ra   io.ReaderAt
	data [][2]int64 // start and end of each entry's data blocks
}

func (d dataRefusing) ReadAt(p []byte, off int64) (int, error) {
	for _, r := range d.data {
		if off < r[1] && off+int64(len(p)) > r[0] {
			return 0, fmt.Errorf("read of %d bytes at %d, in the data at %d-%d", len(p), off, r[0], r[1])
		}
	}
	return d.ra.ReadAt(p, off)
}

// TestIndexTarSkipsEntryData: indexing reads no byte of entry data, not even
// the last byte of each that archive/tar reads after seeking past it, so that
// a frame holding only data that does not decode fails that blob alone.
func TestIndexTarSkipsEntryData(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var data [][2]int64
	for i, size := range []int{1000, 513, 512, 1, 4096} {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)})
		tw.Flush()
		start := int64(buf.Len())
		tw.Write(bytes.Repeat([]byte{'x'}, size))
		tw.Flush()
		data = append(data, [2]int64{start, int64(buf.Len())})
	}
	tw.Close()
	ra := dataRefusing{bytes.NewReader(buf.Bytes()), data}
	idx, _, err := indexTar(ra, int64(buf.Len()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.entries) != 5 {
		t.Errorf("%d entries, want 5", len(idx.entries))
	}
}
