package malicious

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const corpusDir = "../../testdata/malicious"

// TestGenerateMatchesCorpus: the checked-in corpus is exactly what Generate
// writes, so it is reproducible and nothing in it is hand-edited.
func TestGenerateMatchesCorpus(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	fresh, checkedIn := fileNames(t, dir), fileNames(t, corpusDir)
	if !slices.Equal(fresh, checkedIn) {
		t.Fatalf("testdata/malicious holds %v, Generate writes %v; run go run ./internal/malicious/genmalicious testdata/malicious", checkedIn, fresh)
	}
	for _, name := range fresh {
		want, _ := os.ReadFile(filepath.Join(dir, name))
		got, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("testdata/malicious/%s differs from a fresh generation (%v)", name, err)
		}
		if len(want) > 100<<10 {
			t.Errorf("%s is %d bytes; a checked-in case should stay under 100 KiB (mark it Large)", name, len(want))
		}
	}
}

func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
