package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// corruptFixture is an archive whose large layer and small layer are stored
// with their last byte flipped, and a good layer beside them.
type corruptFixture struct {
	path             string
	big, small, good digest.Digest
	bigSize          int
}

func newCorruptFixture(t *testing.T) corruptFixture {
	t.Helper()
	l := newLayout()
	big, small, good := testimage.Bytes(2, 2*smallBlob), []byte("small, corrupt"), []byte("good")
	l.image([]string{"example.com/bad:1"}, "bad", big, small, good)
	f := corruptFixture{big: digest.FromBytes(big), small: digest.FromBytes(small), good: digest.FromBytes(good), bigSize: len(big)}
	l.corrupt(f.big)
	l.corrupt(f.small)
	f.path = l.write(t, t.TempDir(), "bad.tar")
	return f
}

// TestHandlerNeverServesABadBlobWhole requests blobs that fail their digest:
// the first request of a large one is cut before its last byte, later ones
// and small ones get 500, and one line names the archive and the blob.
func TestHandlerNeverServesABadBlobWhole(t *testing.T) {
	f := newCorruptFixture(t)
	before := fileSum(t, f.path)
	srv, _, logs := serve(t, Options{}, openArchive(t, f.path, ""))
	blobs := "/v2/example.com/bad/blobs/"

	first := do(t, srv, "GET", blobs+f.big.String(), nil)
	if first.err == nil || len(first.body) >= f.bigSize {
		t.Errorf("first request of the bad blob: %d, %d of %d bytes, error %v", first.status, len(first.body), f.bigSize, first.err)
	}
	for _, d := range []digest.Digest{f.big, f.small} {
		for range 2 {
			resp := do(t, srv, "GET", blobs+d.String(), nil)
			if resp.status != http.StatusInternalServerError || resp.code() != "UNKNOWN" {
				t.Errorf("%s: %d %q", d, resp.status, resp.code())
			}
		}
		lines := logs.matching(d.String())
		if len(lines) != 1 || !strings.Contains(lines[0], f.path) || !strings.Contains(lines[0], "digest mismatch") {
			t.Errorf("log lines of %s: %q", d, lines)
		}
	}
	if resp := do(t, srv, "GET", blobs+f.good.String(), nil); resp.status != 200 || digest.FromBytes(resp.body) != f.good {
		t.Errorf("good blob: %d %s", resp.status, resp.body)
	}
	partial := do(t, srv, "GET", blobs+f.big.String(), map[string]string{"Range": "bytes=0-9"})
	if partial.status != http.StatusInternalServerError {
		t.Errorf("a range of a blob known bad: %d", partial.status)
	}
	if fileSum(t, f.path) != before {
		t.Error("the archive changed")
	}
}

// TestHandlerVerify hashes every blob at once: the bad ones are counted,
// logged once, and refused from the first request on.
func TestHandlerVerify(t *testing.T) {
	f := newCorruptFixture(t)
	srv, h, logs := serve(t, Options{}, openArchive(t, f.path, ""))
	if bad := h.Verify(context.Background()); bad != 2 {
		t.Errorf("Verify found %d bad blobs, want 2", bad)
	}
	if bad := h.Verify(context.Background()); bad != 2 {
		t.Errorf("Verify again found %d bad blobs, want 2", bad)
	}
	resp := do(t, srv, "GET", "/v2/example.com/bad/blobs/"+f.big.String(), nil)
	if resp.status != http.StatusInternalServerError {
		t.Errorf("bad blob after Verify: %d", resp.status)
	}
	if got := logs.matching("digest mismatch"); len(got) != 2 {
		t.Errorf("log lines: %q", got)
	}
}
