package malicious

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// Case is one hostile or broken archive.
type Case struct {
	Name    string // file name in testdata/malicious
	Problem string // what the one-line error about it contains
	Large   bool   // too large to check in: tests generate it
	Build   func() ([]byte, error)
}

// Limits of the reader the large cases exceed by one (see docs/hardening.md).
const (
	maxEntries            = 100_000
	maxMetadataSize       = 4 << 20
	maxDockerManifestSize = 1 << 20
)

// Cases lists the corpus, one case per threat concerning input.
func Cases() []Case {
	return []Case{
		{"absolute-name.tar", "absolute name", false, withLayout(func(l *layout) { l.file("/etc/passwd", []byte("root\n")) })},
		{"dotdot-name.tar", "points outside the archive", false, withLayout(func(l *layout) { l.file("blobs/../../escape.txt", []byte("out\n")) })},
		{"name-cleans-to-index.tar", `"index.json" appears twice`, false, withLayout(func(l *layout) {
			l.file("blobs/../index.json", indexJSON())
		})},
		{"duplicate-index.tar", `"index.json" appears twice`, false, withLayout(func(l *layout) { l.file("index.json", indexJSON()) })},
		{"duplicate-docker-config.tar", "appears twice", false, func() ([]byte, error) {
			return dockerSave(func(a *tarFile, configName string) { a.file(configName, []byte(`{"architecture":"arm64"}`)) }).bytes()
		}},
		{"symlink-escape.tar", "outside the archive", false, withLayout(func(l *layout) {
			l.remove(blobPath(l.layer.Digest))
			l.link(blobPath(l.layer.Digest), "../../../etc/passwd", tar.TypeSymlink)
		})},
		{"hardlink-escape.tar", "outside the archive", false, withLayout(func(l *layout) {
			l.remove(blobPath(l.layer.Digest))
			l.link(blobPath(l.layer.Digest), "/etc/passwd", tar.TypeLink)
		})},
		{"link-loop.tar", "or a loop", false, withLayout(func(l *layout) {
			l.remove(blobPath(l.manifest.Digest))
			l.link(blobPath(l.manifest.Digest), "loop", tar.TypeLink)
			l.link("loop", blobPath(l.manifest.Digest), tar.TypeLink)
		})},
		{"index-depth.tar", "nested deeper than 8", false, withLayout(func(l *layout) {
			top := l.manifest
			for range 9 {
				top = l.jsonBlob(mediaTypeIndex, index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{top}})
			}
			l.replace("index.json", indexJSON(top))
		})},
		{"self-referencing-index.tar", "digest mismatch", false, withLayout(selfReferencingIndex)},
		{"sparse-entry.tar", "sparse file", false, patched(func(a *tarFile) {
			a.add(tar.Header{Name: "sparse.bin", Typeflag: tar.TypeReg, Format: tar.FormatGNU}, nil)
		}, func(data []byte) { setHeaderField(data, 0, 156, []byte{tar.TypeGNUSparse}) })},
		{"device-entry.tar", "not a regular file", false, withLayout(func(l *layout) {
			l.remove(blobPath(l.manifest.Digest))
			l.add(tar.Header{Name: blobPath(l.manifest.Digest), Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}, nil)
		})},
		{"fifo-entry.tar", "not a regular file", false, withLayout(func(l *layout) {
			l.remove("index.json")
			l.add(tar.Header{Name: "index.json", Typeflag: tar.TypeFifo}, nil)
		})},
		{"size-mismatch.tar", "size mismatch", false, withLayout(func(l *layout) {
			d := l.manifest
			d.Size++
			l.replace("index.json", indexJSON(d))
		})},
		{"digest-mismatch.tar", "digest mismatch", false, withLayout(func(l *layout) {
			body := layerTar()
			body[0] ^= 1
			l.replace(blobPath(l.layer.Digest), body)
		})},
		{"missing-blob.tar", "blob missing from the archive", false, withLayout(func(l *layout) { l.remove(blobPath(l.layer.Digest)) })},
		{"negative-size.tar", "not a readable tar archive", false, patched(firstFile, func(data []byte) { setHeaderField(data, 0, 124, base256(-1)) })},
		{"overflowing-size.tar", "truncated", false, patched(firstFile, func(data []byte) { setHeaderField(data, 0, 124, base256(math.MaxInt64-511)) })},
		{"pax-size-override.tar", "truncated", false, patched(func(a *tarFile) {
			a.add(tar.Header{Name: "PaxHeaders/first", Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}, paxRecord("size", fmt.Sprint(int64(math.MaxInt64-511))))
			firstFile(a)
		}, func(data []byte) { setHeaderField(data, 0, 156, []byte{tar.TypeXHeader}) })},
		{"truncated.tar", "truncated", false, func() ([]byte, error) {
			data, err := valid()
			if err != nil {
				return nil, err
			}
			return data[:len(data)-2*512-100], nil
		}},
		{"gzip-bomb.tar.gz", "decompression bomb", false, func() ([]byte, error) { return bomb(newGzip, 64<<20) }},
		{"zstd-bomb.tar.zst", "decompression bomb", false, func() ([]byte, error) { return bomb(newZstd, 1<<30) }},
		{"truncated-foreign.tar.gz", "truncated", false, cutInHalf(foreignGzip)},
		{"truncated-ocitar.tar.zst", "truncated", false, cutInHalf(ocitarZstd)},
		{"truncated-single-frame.tar.zst", "truncated", false, cutInHalf(singleFrameZstd)},
		{"corrupt-deflate-block.tar.gz", "corrupt deflate data", false, corruptDeflateBlock},
		{"corrupt-zstd-frame.tar.zst", "does not decode", false, corruptZstdFrame},
		{"corrupt-single-frame.tar.zst", "corrupt zstd data", false, corruptSingleFrame},
		{"gzip-wrong-crc.tar.gz", "CRC32", false, gzipTrailer(0)},
		{"gzip-wrong-isize.tar.gz", "its trailer says", false, gzipTrailer(4)},
		{"seek-table-sizes-do-not-add-up.tar.zst", "come before it", false, seekTableSizesDoNotAddUp},
		{"seek-table-shifted-frames.tar.zst", "no zstd frame starts there", false, seekTableShiftedFrames},
		{"seek-table-larger-than-file.tar.zst", "more than the file's", false, seekTableLargerThanFile},
		{"too-many-entries.tar", "more than 100000 tar entries", true, tooManyEntries},
		{"index-json-too-large.tar", "the limit is", true, withLayout(func(l *layout) {
			l.replace("index.json", padJSON(indexJSON(l.manifest), maxMetadataSize+1))
		})},
		{"manifest-too-large.tar", "the limit is", true, func() ([]byte, error) { return newLayout(0, maxMetadataSize).bytes() }},
		{"config-too-large.tar", "the limit is", true, func() ([]byte, error) { return newLayout(maxMetadataSize, 0).bytes() }},
		{"manifest-json-too-large.tar", "the limit is", true, func() ([]byte, error) {
			a := dockerSave(nil)
			a.replace("manifest.json", padJSON(a.entries[len(a.entries)-1].body, maxDockerManifestSize+1))
			return a.bytes()
		}},
	}
}

// Valid is the well-formed archive the OCI cases start from.
func Valid() ([]byte, error) { return valid() }

// ValidDockerSave is the well-formed docker-save archive the docker-save cases start from.
func ValidDockerSave() ([]byte, error) { return dockerSave(nil).bytes() }

// Generate writes every case that is not Large into dir.
func Generate(dir string) error {
	for _, c := range Cases() {
		if c.Large {
			continue
		}
		data, err := c.Build()
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.Name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func withLayout(mutate func(l *layout)) func() ([]byte, error) {
	return func() ([]byte, error) {
		l := newLayout(0, 0)
		mutate(l)
		return l.bytes()
	}
}

// patched builds a tar whose first entries add writes, then patches its bytes.
func patched(add func(a *tarFile), patch func(data []byte)) func() ([]byte, error) {
	return func() ([]byte, error) {
		l := newLayout(0, 0)
		first := &tarFile{}
		add(first)
		l.entries = append(first.entries, l.entries...)
		data, err := l.bytes()
		if err != nil {
			return nil, err
		}
		patch(data)
		return data, nil
	}
}

// firstFile adds a small file whose header is the archive's first block.
func firstFile(a *tarFile) {
	a.add(tar.Header{Name: "first.txt", Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}, []byte("first\n"))
}

// selfReferencingIndex makes index.json name an index blob that lists itself.
// No content can contain its own sha256, so the blob is stored under a digest
// it does not match.
func selfReferencingIndex(l *layout) {
	self := descriptor{MediaType: mediaTypeIndex, Digest: sha256Digest([]byte("the index itself"))}
	var body []byte
	for self.Size == 0 || int64(len(body)) != self.Size {
		self.Size = max(int64(len(body)), 1)
		body = mustJSON(index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{self, l.manifest}})
	}
	l.file(blobPath(self.Digest), body)
	l.replace("index.json", indexJSON(self))
}

// paxRecord is one record of a PAX extended header.
func paxRecord(key, value string) []byte {
	rec := " " + key + "=" + value + "\n"
	n := len(rec)
	for len(fmt.Sprint(n))+len(rec) != n {
		n = len(fmt.Sprint(n)) + len(rec)
	}
	return []byte(fmt.Sprint(n) + rec)
}

// padJSON pads a JSON document with spaces to size bytes.
func padJSON(data []byte, size int) []byte {
	return append(data, bytes.Repeat([]byte(" "), size-len(data))...)
}

// tooManyEntries is one more empty file than the reader accepts.
func tooManyEntries() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range maxEntries + 1 {
		hdr := &tar.Header{Name: fmt.Sprintf("e/%06d", i), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func newGzip(w io.Writer) (io.WriteCloser, error) {
	return gzip.NewWriterLevel(w, gzip.BestCompression)
}

func newZstd(w io.Writer) (io.WriteCloser, error) {
	return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
}

// bomb is a compressed tar holding one file of size zero bytes.
func bomb(compressor func(io.Writer) (io.WriteCloser, error), size int64) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := compressor(&buf)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size, Format: tar.FormatUSTAR}); err != nil {
		return nil, err
	}
	zeros := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(zeros)) {
		if _, err := tw.Write(zeros[:min(int64(len(zeros)), size-n)]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
