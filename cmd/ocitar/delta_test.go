package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

const (
	sampleImage = "oci-tar:../../testdata/sample.docker.tar"
	multiImage  = "oci-tar:../../testdata/sample-multi.oci.tar:example.com/ocitar/multi:1"
)

// archiveBlobs are the digests of the blobs the archive or layout
// directory at path stores.
func archiveBlobs(t *testing.T, path string) []digest.Digest {
	t.Helper()
	open := archive.Open
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		open = archive.OpenDir
	}
	r, err := open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var blobs []digest.Digest
	for _, e := range r.Entries() {
		if enc, ok := strings.CutPrefix(e.Name, "blobs/sha256/"); ok && enc != "" {
			blobs = append(blobs, digest.NewDigestFromEncoded(digest.SHA256, enc))
		}
	}
	slices.Sort(blobs)
	return blobs
}

// deltaBlobs are the blobs a delta of the images of the archive full holds
// against bases: every blob of full but the layers a base stores.
func deltaBlobs(t *testing.T, full string, bases ...string) []digest.Digest {
	t.Helper()
	var based []digest.Digest
	for _, b := range bases {
		based = append(based, archiveBlobs(t, b)...)
	}
	r, err := archive.Open(full, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var want []digest.Digest
	for _, img := range r.Images() {
		for _, b := range img.Blobs {
			isLayer := strings.Contains(b.MediaType, "layer") || strings.Contains(b.MediaType, "rootfs")
			if !(isLayer && slices.Contains(based, b.Digest)) && !slices.Contains(want, b.Digest) {
				want = append(want, b.Digest)
			}
		}
	}
	slices.Sort(want)
	return want
}

// extractTar extracts the regular files of the tar at path into dir, an
// OCI layout directory when the tar holds one.
func extractTar(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		target := filepath.Join(dir, hdr.Name)
		data, err := io.ReadAll(tr)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(target), 0o755)
		}
		if err == nil {
			err = os.WriteFile(target, data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// recordedBases are the bases the delta at path records.
func recordedBases(t *testing.T, path string) []archive.Base {
	t.Helper()
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bases, err := r.Bases()
	if err != nil {
		t.Fatal(err)
	}
	return bases
}

// TestSaveDelta writes deltas of the sample and multi images with save and
// copy, against archives and against inventories of an archive and of an
// OCI layout directory: each holds exactly the blobs of its images but the
// layers of its bases, records its bases, is the same byte for byte when
// written again, and verifies whole on top of its bases.
func TestSaveDelta(t *testing.T) {
	dir := t.TempDir()
	in := func(name string) string { return filepath.Join(dir, name) }
	mustOcitar(t, "save", "-q", "-o", in("sample.tar"), sampleImage)
	mustOcitar(t, "save", "-q", "-o", in("multi.tar"), multiImage)
	mustOcitar(t, "save", "-q", "-o", in("full.tar"), sampleImage, multiImage)
	extractTar(t, in("sample.tar"), in("layout"))
	inventoryOf := func(name string, sources ...string) string {
		out := mustOcitar(t, append([]string{"inventory"}, sources...)...)
		if err := os.WriteFile(in(name), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return in(name)
	}
	archiveHave, layoutHave := inventoryOf("archive.json", in("sample.tar")), inventoryOf("layout.json", in("layout"))

	tests := []struct {
		name  string
		args  func(out string) []string
		bases []string // the archives the delta is read with
		kinds []string // the kinds of the bases it records
	}{
		{"save --base", func(out string) []string {
			return []string{"save", "-q", "--base", in("sample.tar"), "-o", out, sampleImage, multiImage}
		}, []string{in("sample.tar")}, []string{archive.BaseArchive}},
		{"save, two --base", func(out string) []string {
			return []string{"save", "-q", "--base", in("sample.tar"), "--base", in("multi.tar"), "-o", out, sampleImage, multiImage}
		}, []string{in("sample.tar"), in("multi.tar")}, []string{archive.BaseArchive, archive.BaseArchive}},
		{"save --have of an archive", func(out string) []string {
			return []string{"save", "-q", "--have", archiveHave, "-o", out, sampleImage, multiImage}
		}, []string{in("sample.tar")}, []string{archive.BaseArchive}},
		{"save --have of a layout directory", func(out string) []string {
			return []string{"save", "-q", "--have", layoutHave, "-o", out, sampleImage, multiImage}
		}, []string{in("layout")}, []string{archive.BaseLayout}},
		{"copy --base", func(out string) []string {
			return []string{"copy", "-q", "--base", in("sample.tar"), sampleImage, "oci-tar:" + out + ":example.com/ocitar/sample:1"}
		}, []string{in("sample.tar")}, []string{archive.BaseArchive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "delta.tar")
			mustOcitar(t, tt.args(out)...)
			full := in("full.tar")
			if tt.args("")[0] == "copy" {
				full = in("sample.tar")
			}
			got, want := archiveBlobs(t, out), deltaBlobs(t, full, tt.bases...)
			if !slices.Equal(got, want) {
				t.Errorf("the delta holds %v, want %v", got, want)
			}
			if len(got) >= len(archiveBlobs(t, full)) {
				t.Errorf("the delta holds %d blobs, as many as %s: it leaves out nothing", len(got), full)
			}
			var kinds []string
			for _, b := range recordedBases(t, out) {
				kinds = append(kinds, b.Kind)
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Errorf("the delta records bases of kinds %v, want %v", kinds, tt.kinds)
			}
			first, _ := os.ReadFile(out)
			mustOcitar(t, tt.args(out)...)
			if again, _ := os.ReadFile(out); !bytes.Equal(first, again) {
				t.Error("the delta written again differs")
			}
			if tt.kinds[0] == archive.BaseArchive {
				mustOcitar(t, "verify", strings.Join(append(slices.Clone(tt.bases), out), "+"))
			}
		})
	}
}

// TestDeltaRecordsBases records a base by its file name and identity, the
// digest of its index.json, whether given itself or by an inventory.
func TestDeltaRecordsBases(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "sample.tar")
	mustOcitar(t, "save", "-q", "-o", base, sampleImage)
	r, err := archive.Open(base, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.Identity()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	have := filepath.Join(dir, "have.json")
	if err := os.WriteFile(have, []byte(mustOcitar(t, "inventory", base)), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []archive.Base{{Kind: archive.BaseArchive, Name: "sample.tar", Identity: id}}
	for _, flag := range []string{"--base=" + base, "--have=" + have} {
		out := filepath.Join(t.TempDir(), "delta.tar")
		mustOcitar(t, "save", "-q", flag, "-o", out, multiImage)
		if got := recordedBases(t, out); !slices.Equal(got, want) {
			t.Errorf("save %s records %+v, want %+v", flag, got, want)
		}
	}
}

// badBase writes an archive that holds the layer of good under its digest
// but with other bytes of the same size, and good itself.
func badBase(t *testing.T, dir string) (good, bad string) {
	t.Helper()
	var b testimage.Layout
	b.Index(testimage.Named(b.Image("amd64", "the layer"), "example.com/bad:1"))
	good, bad = filepath.Join(dir, "good.tar"), filepath.Join(dir, "bad.tar")
	if err := os.WriteFile(good, b.Tar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(b.Files, func(f testimage.File) bool { return f.Body == "the layer" })
	b.Files[i].Body = "THE LAYER"
	if err := os.WriteFile(bad, b.Tar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return good, bad
}

// TestDeltaBadInput gives what cannot be a base or an inventory: each fails
// with one line naming the file, exit 1, and the output is not written, nor
// an existing one changed.
func TestDeltaBadInput(t *testing.T) {
	dir := t.TempDir()
	good, bad := badBase(t, dir)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notArchive := write("notes.txt", "just some notes\n")
	notInventory := write("have.json", `{"version":1,"sources":[{"kind":"archive","name":"x.tar","blobs":[]}]}`)
	garbage := write("garbage.json", "\x1f\x8b\x08\x00 not json")
	tests := []struct {
		name string
		args []string // before -o OUT IMAGE
		want []string // in the one line
	}{
		{"a --base that is not an archive", []string{"--base", notArchive}, []string{notArchive}},
		{"a --base that does not exist", []string{"--base", filepath.Join(dir, "absent.tar")}, []string{"absent.tar"}},
		{"an inventory that is not one", []string{"--have", notInventory}, []string{notInventory, "not an inventory", "identity"}},
		{"an inventory that is not JSON", []string{"--have", garbage}, []string{garbage, "not an inventory"}},
		{"an inventory that does not exist", []string{"--have", filepath.Join(dir, "absent.json")}, []string{"absent.json"}},
		{"a base holding a blob under a wrong digest", []string{"--verify-bases", "--base", bad}, []string{bad, "digest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, existing := range []bool{false, true} {
				out := filepath.Join(t.TempDir(), "delta.tar")
				if existing {
					write := []byte("the old file")
					if err := os.WriteFile(out, write, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args := append(append([]string{"save", "-q"}, tt.args...), "-o", out, "oci-tar:"+good)
				status, stdout, stderr := ocitar(t, args...)
				if status != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 {
					t.Fatalf("ocitar %s: exit %d, stdout %q, stderr %q; want exit 1 and one line", strings.Join(args, " "), status, stdout, stderr)
				}
				for _, w := range tt.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr %q lacks %q", stderr, w)
					}
				}
				data, err := os.ReadFile(out)
				if existing && string(data) != "the old file" || !existing && err == nil {
					t.Errorf("after the failure %s holds %d bytes (%v), want it as it was", out, len(data), err)
				}
			}
		})
	}
}

// TestDeltaOfBadBase writes a delta against a base whose layer has the
// wrong bytes without --verify-bases: the base is read, not hashed, and
// verify of the stack finds the bad blob.
func TestDeltaOfBadBase(t *testing.T) {
	good, bad := badBase(t, t.TempDir())
	out := filepath.Join(t.TempDir(), "delta.tar")
	mustOcitar(t, "save", "-q", "--base", bad, "-o", out, "oci-tar:"+good)
	status, _, stderr := ocitar(t, "verify", bad+"+"+out)
	if status != 1 || !strings.Contains(stderr, "bad.tar") || !strings.Contains(stderr, string(digest.FromString("the layer"))) {
		t.Errorf("verify of the stack: exit %d, %q; want 1, naming bad.tar and the layer", status, stderr)
	}
}

// TestInventoryRefuses fails with one line and writes nothing for a
// source that is none, and refuses --have for a destination that is not
// an archive.
func TestInventoryRefuses(t *testing.T) {
	dir := t.TempDir()
	notArchive := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notArchive, []byte("notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"inventory", "../../testdata/sample.docker.tar", notArchive}, notArchive},
		{[]string{"copy", "-q", "--base", "../../testdata/sample.docker.tar", sampleImage, "dir:" + filepath.Join(dir, "out")}, "--base and --have apply to oci-tar: destinations, not dir:"},
	}
	for _, tt := range tests {
		status, stdout, stderr := ocitar(t, tt.args...)
		if status != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("ocitar %s: exit %d, stdout %q, stderr %q; want 1, nothing, one line with %q", strings.Join(tt.args, " "), status, stdout, stderr, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("copy --base to dir: wrote the directory")
	}
}
