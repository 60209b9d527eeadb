package registry

import (
	"errors"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// TestHandlerReplace replaces the archive served while a download is under
// way: the download completes from the old file, new requests get the new
// image, and the old archive is closed once the download is done.
func TestHandlerReplace(t *testing.T) {
	dir := t.TempDir()
	oldLayout, newLayout := newLayout(), newLayout()
	big := testimage.Bytes(3, 4<<20)
	oldImage := oldLayout.image([]string{"example.com/app:1"}, "old", big)
	newImage := newLayout.image([]string{"example.com/app:1"}, "new", []byte("new layer"))
	path := oldLayout.write(t, dir, "app.tar")
	old := openArchive(t, path, "")
	srv, h, _ := serve(t, Options{}, old)

	resp, err := srv.Client().Get(srv.URL + "/v2/example.com/app/blobs/" + digest.FromBytes(big).String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(newLayout.write(t, dir, "app.tar.new"), path); err != nil {
		t.Fatal(err)
	}
	if err := h.Replace([]Archive{openArchive(t, path, "")}); err != nil {
		t.Fatal(err)
	}
	if got := do(t, srv, "GET", "/v2/example.com/app/manifests/1", nil); digest.FromBytes(got.body) != newImage.Digest {
		t.Errorf("after Replace, tag 1 is %s, want the new %s (old %s)", digest.FromBytes(got.body), newImage.Digest, oldImage.Digest)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || digest.FromBytes(append(head, rest...)) != digest.FromBytes(big) {
		t.Fatalf("the download under way: %d, %v, %d bytes", resp.StatusCode, err, len(head)+len(rest))
	}
	resp.Body.Close()
	srv.Client().CloseIdleConnections()
	if got := do(t, srv, "GET", "/v2/example.com/app/blobs/"+digest.FromBytes(big).String(), nil); got.status != http.StatusNotFound {
		t.Errorf("the old blob after Replace: %d", got.status)
	}
	closed := func() bool {
		_, _, err := old.Reader.Manifest(oldImage.Digest)
		return errors.Is(err, os.ErrClosed)
	}
	for deadline := time.Now().Add(10 * time.Second); !closed() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !closed() {
		t.Error("the old archive is still open once its requests are done")
	}
}
