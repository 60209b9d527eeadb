package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/ocitar/ocitar/internal/malicious"
	digest "github.com/opencontainers/go-digest"
)

// maxFuzzInput bounds the archives FuzzOpen reads; the reader's own limits
// must bound what it allocates for them.
const maxFuzzInput = 1 << 20

// FuzzOpen opens arbitrary bytes as an archive, then reads every manifest and
// every blob of every image to EOF, and verifies them as Verify does, going on
// past problems. It must not panic, hang or allocate without bound; errors are
// expected.
func FuzzOpen(f *testing.F) {
	valid, err := malicious.Valid()
	if err != nil {
		f.Fatal(err)
	}
	dockerSave, err := malicious.ValidDockerSave()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(dockerSave)
	corpus, err := filepath.Glob("../testdata/malicious/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range corpus {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		var problems []error
		if r, err := newNamedReader(bytes.NewReader(data), int64(len(data)), "fuzz", Options{problems: &problems}); err == nil {
			r.verify(problems)
		}
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, img := range r.Images() {
			r.Manifest(img.Descriptor.Digest)
			for _, b := range img.Blobs {
				if rc, _, err := r.OpenBlob(b.Digest); err == nil {
					io.Copy(io.Discard, rc)
					rc.Close()
				}
			}
		}
	})
}

// FuzzTarIndex writes a tar with archive/tar from a structured input: entry
// names (one per line), sizes, type flags, the header format and long names.
// The offset index must give every regular file the bytes archive/tar's
// sequential read gives it, the last of a name winning.
func FuzzTarIndex(f *testing.F) {
	f.Add("a\nb/c\nd", []byte{1, 0, 200}, []byte{0, 1, 2}, uint8(0), false)
	f.Add("blobs/sha256/x\n./blobs/sha256/x\nlink", []byte{3, 5, 0}, []byte{0, 0, 3}, uint8(1), true)
	f.Add("dir/\ndir/f\n../x\n/abs", []byte{0, 9, 1, 1}, []byte{1, 0, 0, 0}, uint8(2), true)
	f.Fuzz(func(t *testing.T, names string, sizes, types []byte, format uint8, long bool) {
		data, err := fuzzTar(names, sizes, types, format, long)
		if err != nil {
			return // archive/tar cannot write it in that format
		}
		idx, _, err := indexTar(bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil {
			if !isKnownKind(err) {
				t.Fatalf("indexTar: %v, not one of the error kinds", err)
			}
			return
		}
		for _, e := range lastOfEachName(readSequentially(t, bytes.NewReader(data), int64(len(data)))) {
			if e.hdr.Typeflag != tar.TypeReg || e.name == "." {
				continue // "." is the archive's root, not indexed
			}
			got, ok := idx.entries[e.name]
			if !ok || got.Type != tar.TypeReg || got.Size != e.hdr.Size {
				t.Fatalf("%q: index has %+v, archive/tar %d bytes", e.name, got, e.hdr.Size)
			}
			if !bytes.Equal(data[got.Offset:got.Offset+got.Size], e.data) {
				t.Fatalf("%q: data at offset %d differs from archive/tar's", e.name, got.Offset)
			}
		}
	})
}

// fuzzTar builds the tar FuzzTarIndex describes: up to 16 entries, each of up
// to 64 KiB of patterned data.
func fuzzTar(names string, sizes, types []byte, format uint8, long bool) ([]byte, error) {
	formats := []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU}
	flags := []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink}
	list := strings.Split(names, "\n")
	if len(list) > 16 {
		list = list[:16]
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, name := range list {
		if long {
			name = strings.Repeat("long/", 30) + name
		}
		hdr := &tar.Header{Name: name, Mode: 0o644, Format: formats[int(format)%len(formats)], Typeflag: tar.TypeReg}
		if i < len(types) {
			hdr.Typeflag = flags[int(types[i])%len(flags)]
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = list[(i+1)%len(list)]
		}
		var body []byte
		if hdr.Typeflag == tar.TypeReg && i < len(sizes) {
			body = bytes.Repeat([]byte{byte(i)}, int(sizes[i])*257)
			hdr.Size = int64(len(body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lastOfEachName keeps, for every cleaned name, its last entry.
func lastOfEachName(entries []sequentialEntry) map[string]sequentialEntry {
	last := map[string]sequentialEntry{}
	for _, e := range entries {
		last[e.name] = e
	}
	return last
}

func isKnownKind(err error) bool {
	for _, kind := range []error{ErrNotArchive, ErrUnsafeEntry, ErrUnsupportedEntry, ErrAmbiguousEntry, ErrMissingEntry,
		ErrBadLink, ErrNoLayout, ErrInvalidMetadata, ErrMissingBlob, ErrDigestMismatch, ErrSizeMismatch, ErrTooLarge,
		ErrUnsupportedDigest, ErrNoMatch, ErrAmbiguous, ErrBadSelector} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// FuzzParseSelector: any selector that parses prints as a string that parses
// back to it.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"", "alpine", "example.com/a:1", "@0", "@12", "@sha256:" + strings.Repeat("ab", 32), "@x", "@-1", "@+3", "a@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			if !errors.Is(err, ErrBadSelector) {
				t.Fatalf("ParseSelector(%q): %v, not ErrBadSelector", s, err)
			}
			return
		}
		again, err := ParseSelector(sel.String())
		if err != nil || again != sel {
			t.Fatalf("ParseSelector(%q) = %#v, printed %q, parsed back %#v, %v", s, sel, sel.String(), again, err)
		}
	})
}

// FuzzDockerSave builds a docker-save archive from a structured input: layer
// contents (split at NUL bytes, up to 8), which of them are stored gzipped, a
// RepoTag, and a change to the config's diff_ids. The reader must present it
// as one image whose synthesized manifest names the config by its digest and
// has one layer per DiffID, every blob reading back verified, or fail with
// one of the error kinds.
func FuzzDockerSave(f *testing.F) {
	f.Add([]byte("layer one\x00layer two"), uint8(1), "example.com/a:1", int8(0))
	f.Add([]byte("only"), uint8(0), "", int8(1))
	f.Add([]byte("a\x00b\x00c"), uint8(7), "b:latest", int8(-1))
	f.Fuzz(func(t *testing.T, layers []byte, gzipped uint8, repoTag string, diffIDChange int8) {
		data, config, err := fuzzDockerSave(layers, gzipped, repoTag, diffIDChange)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !isKnownKind(err) {
				t.Fatalf("NewReader: %v, not one of the error kinds", err)
			}
			return
		}
		if diffIDChange != 0 {
			t.Fatalf("the config's diff_ids do not match the layers, but NewReader succeeded")
		}
		checkDockerSaveImage(t, r, config)
	})
}

// fuzzDockerSave writes the archive FuzzDockerSave describes and returns it
// with its config.
func fuzzDockerSave(layers []byte, gzipped uint8, repoTag string, diffIDChange int8) ([]byte, []byte, error) {
	contents := bytes.Split(layers, []byte{0})
	if len(contents) > 8 {
		contents = contents[:8]
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var diffIDs []digest.Digest
	var paths []string
	for i, c := range contents {
		diffIDs = append(diffIDs, digest.FromBytes(c))
		stored := c
		if gzipped&(1<<i) != 0 {
			stored = gzipBytes(c)
		}
		paths = append(paths, fmt.Sprintf("%d/layer.tar", i))
		if err := writeTarFile(tw, paths[i], stored); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case diffIDChange > 0:
		diffIDs = append(diffIDs, digest.FromString("extra"))
	case diffIDChange < 0:
		diffIDs = diffIDs[1:]
	}
	config, err := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	if err != nil {
		return nil, nil, err
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{repoTag}, "Layers": paths}})
	if err != nil {
		return nil, nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"config.json", config}, {"manifest.json", manifest}} {
		if err := writeTarFile(tw, f.name, f.data); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), config, nil
}

func writeTarFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func gzipBytes(data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

// checkDockerSaveImage checks the one image of a docker-save archive against its config.
func checkDockerSaveImage(t *testing.T, r *Reader, config []byte) {
	t.Helper()
	images := r.Images()
	if len(images) != 1 {
		t.Fatalf("%d images, want 1", len(images))
	}
	data, _, err := r.Manifest(images[0].Descriptor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var m dockerManifest
	var c dockerConfig
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(config, &c); err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest != digest.FromBytes(config) || len(m.Layers) != len(c.RootFS.DiffIDs) {
		t.Fatalf("manifest config %s with %d layers; config is %s with %d diff_ids", m.Config.Digest, len(m.Layers), digest.FromBytes(config), len(c.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		rc, size, err := r.OpenBlob(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != size || n != l.Size || l.Digest != c.RootFS.DiffIDs[i] {
			t.Fatalf("layer %d (%s): read %d bytes of %d (%d in the manifest), %v", i, path.Base(l.Digest.String()), n, size, l.Size, err)
		}
	}
}
