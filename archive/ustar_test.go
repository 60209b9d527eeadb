package archive

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// parseHeader reads hdr back with archive/tar. The header is followed by an
// end-of-archive marker, not by data: Next does not read an entry's data, so
// headers of any size parse.
func parseHeader(t *testing.T, hdr [blockSize]byte) *tar.Header {
	t.Helper()
	buf := append(hdr[:], make([]byte, 2*blockSize)...)
	h, err := tar.NewReader(bytes.NewReader(buf)).Next()
	if err != nil {
		t.Fatalf("archive/tar cannot read the header: %v", err)
	}
	return h
}

func TestUstarHeader(t *testing.T) {
	sha384 := "blobs/sha384/" + strings.Repeat("3", 96)
	tests := []struct {
		name     string
		entry    string
		typeflag byte
		mode     int64
		size     int64
		mtime    int64
		wantErr  bool
	}{
		{name: "size 0", entry: "index.json", typeflag: tar.TypeReg, mode: 0o644, size: 0, mtime: 1700000000},
		{name: "size 1", entry: "index.json", typeflag: tar.TypeReg, mode: 0o644, size: 1},
		{name: "largest octal size", entry: "blobs/sha256/x", typeflag: tar.TypeReg, mode: 0o644, size: 1<<33 - 1},
		{name: "8 GiB in base-256", entry: "blobs/sha256/x", typeflag: tar.TypeReg, mode: 0o644, size: 1 << 33},
		{name: "9 GiB in base-256", entry: sha384, typeflag: tar.TypeReg, mode: 0o644, size: 9 << 30, mtime: 1},
		{name: "1 TiB and some in base-256", entry: "blobs/sha256/x", typeflag: tar.TypeReg, mode: 0o644, size: 1<<40 + 0x123456},
		{name: "directory", entry: "blobs/", typeflag: tar.TypeDir, mode: 0o755},
		{name: "name of 100 bytes", entry: strings.Repeat("n", 100), typeflag: tar.TypeReg, mode: 0o644, size: 3},
		{name: "name split into prefix and name", entry: sha384, typeflag: tar.TypeReg, mode: 0o644, size: 5},
		{name: "longest prefix and name", entry: strings.Repeat("p", 155) + "/" + strings.Repeat("n", 100), typeflag: tar.TypeReg, mode: 0o644},
		{name: "mtime after 2242 in base-256", entry: "oci-layout", typeflag: tar.TypeReg, mode: 0o644, mtime: 1 << 34},
		{name: "mtime before 1970 written as 0", entry: "oci-layout", typeflag: tar.TypeReg, mode: 0o644, mtime: -86400},
		{name: "sha512 blob name does not fit", entry: "blobs/sha512/" + strings.Repeat("5", 128), typeflag: tar.TypeReg, mode: 0o644, wantErr: true},
		{name: "prefix of 156 bytes does not fit", entry: strings.Repeat("p", 156) + "/" + strings.Repeat("n", 100), typeflag: tar.TypeReg, wantErr: true},
		{name: "name of 101 bytes without a slash", entry: strings.Repeat("n", 101), typeflag: tar.TypeReg, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, err := ustarHeader(tt.entry, tt.typeflag, tt.mode, tt.size, tt.mtime)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.entry) {
					t.Fatalf("error %v, want one naming %q", err, tt.entry)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(hdr) != 512 {
				t.Fatalf("header of %d bytes, want 512", len(hdr))
			}
			if magic := string(hdr[hdrMagic : hdrMagic+8]); magic != "ustar\x0000" {
				t.Errorf("magic and version %q, want USTAR's", magic)
			}
			if base256 := hdr[hdrSize]&0x80 != 0; base256 != (tt.size > 1<<33-1) {
				t.Errorf("size field %q: base-256 is %v, want it for 8 GiB and more only", hdr[hdrSize:hdrSize+12], base256)
			}
			h := parseHeader(t, hdr)
			if h.Name != tt.entry || h.Size != tt.size || h.Typeflag != tt.typeflag || h.Mode != tt.mode {
				t.Errorf("read back %q size %d type %q mode %o; want %q size %d type %q mode %o",
					h.Name, h.Size, h.Typeflag, h.Mode, tt.entry, tt.size, tt.typeflag, tt.mode)
			}
			if got := h.ModTime.Unix(); got != max(tt.mtime, 0) {
				t.Errorf("mtime %d, want %d", got, max(tt.mtime, 0))
			}
			if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
				t.Errorf("owner %d:%d (%q:%q), want 0:0 without names", h.Uid, h.Gid, h.Uname, h.Gname)
			}
		})
	}
}

// TestUstarHeaderPatchable checks what lets Writer write a header before a
// blob of unknown size and rewrite it in place: only the size and checksum
// fields depend on the size.
func TestUstarHeaderPatchable(t *testing.T) {
	tests := []struct {
		entry       string
		small, huge int64
	}{
		{"blobs/sha256/" + strings.Repeat("0", 64), 10, 9 << 30},
		{"blobs/sha384/" + strings.Repeat("0", 96), 10, 9 << 30},
		{"blobs/sha256/" + strings.Repeat("0", 64), 0, 1<<33 - 1},
		{"blobs/sha256/" + strings.Repeat("0", 64), 1<<33 - 1, 1 << 33},
		{"blobs/sha256/" + strings.Repeat("0", 64), 512, 1<<40 + 0x123456},
	}
	for _, tt := range tests {
		a, err := ustarHeader(tt.entry, tar.TypeReg, 0o644, tt.small, 1700000000)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ustarHeader(tt.entry, tar.TypeReg, 0o644, tt.huge, 1700000000)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			inSize := i >= hdrSize && i < hdrSize+12
			inChecksum := i >= hdrChecksum && i < hdrChecksum+8
			if a[i] != b[i] && !inSize && !inChecksum {
				t.Errorf("%s: headers for sizes %d and %d differ at byte %d", tt.entry, tt.small, tt.huge, i)
			}
		}
		if bytes.Equal(a[hdrSize:hdrSize+12], b[hdrSize:hdrSize+12]) {
			t.Errorf("%s: sizes %d and %d have the same size field", tt.entry, tt.small, tt.huge)
		}
	}
}
