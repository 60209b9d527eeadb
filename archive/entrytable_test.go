package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// indexedEntries indexes data as a stream, returning the entries in the order added.
func indexedEntries(t testing.TB, data []byte) (*tarIndex, []storedEntry) {
	t.Helper()
	var entries []storedEntry
	idx, err := indexEntries(&streamReader{r: bytes.NewReader(data)}, -1, Options{}, func(e *Entry, _ io.Reader) error {
		entries = append(entries, storedEntry{Entry: *e})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return idx, entries
}

// layoutTar is a tar of an OCI layout of one image.
func layoutTar(t testing.TB) []byte {
	l := &testimage.Layout{}
	l.Index(l.Image("amd64", "layer"))
	return l.Tar(t)
}

func TestEntryTableRoundTrip(t *testing.T) {
	data := layoutTar(t)
	sample, err := testimage.Headers(
		tar.Header{Name: "a", Typeflag: tar.TypeReg},
		tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "a"},
		tar.Header{Name: "d/", Typeflag: tar.TypeDir},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{{"layout", data}, {"links and directories", sample}} {
		t.Run(tt.name, func(t *testing.T) {
			idx, entries := indexedEntries(t, tt.data)
			entries[0].Digest = digest.FromString("x")
			got, size, err := decodeEntries(encodeEntries(entries, int64(len(tt.data))), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if size != int64(len(tt.data)) || len(got) != len(entries) || got[0] != entries[0] {
				t.Fatalf("decoded %d entries of a %d-byte tar, want %d of %d", len(got), size, len(entries), len(tt.data))
			}
			back, err := indexOfEntries(got)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := (indexedNames{idx}).entries(), (indexedNames{back}).entries(); !slices.Equal(a, b) {
				t.Errorf("index rebuilt from the table:\n%v\nwant\n%v", b, a)
			}
		})
	}
}

func TestDecodeEntriesRefuses(t *testing.T) {
	good := []storedEntry{{Entry: Entry{Name: "a", Type: tar.TypeReg, Offset: 512, Size: 10}}}
	tests := []struct {
		name    string
		entries []storedEntry
		size    int64
		cut     int
	}{
		{"outside the tar", good, 100, 0},
		{"climbing name", []storedEntry{{Entry: Entry{Name: "../a", Type: tar.TypeReg}}}, 100, 0},
		{"unclean name", []storedEntry{{Entry: Entry{Name: "./a", Type: tar.TypeReg}}}, 100, 0},
		{"data of a link", []storedEntry{{Entry: Entry{Name: "l", Type: tar.TypeSymlink, Size: 5}}}, 100, 0},
		{"bad digest", []storedEntry{{Entry: Entry{Name: "a", Type: tar.TypeReg}, Digest: "sha256:xyz"}}, 100, 0},
		{"cut short", good, 1000, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := encodeEntries(tt.entries, tt.size)
			data = data[:len(data)-tt.cut]
			if _, _, err := decodeEntries(data, Options{}); !errors.Is(err, errBadEntryTable) {
				t.Fatalf("decodeEntries: %v, want errBadEntryTable", err)
			}
		})
	}
}

// FuzzDecodeEntries: an entry table from the cache is data, not trust; no
// bytes may panic it, make it allocate beyond their length, or give an entry
// outside the tar.
func FuzzDecodeEntries(f *testing.F) {
	_, entries := indexedEntries(f, layoutTar(f))
	f.Add(encodeEntries(entries, 1<<20))
	f.Add([]byte(entryTableMagic + "\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, size, err := decodeEntries(data, Options{})
		if err != nil {
			return
		}
		for _, e := range got {
			if e.Offset+e.Size > size {
				t.Fatalf("entry %q of %d bytes at %d, outside %d", e.Name, e.Size, e.Offset, size)
			}
		}
		indexOfEntries(got)
	})
}
