package transport

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/directory"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// TestReadByCopyEngine reads a blob with one byte flipped: the source checks
// it unless ReadByCopyEngine, which serves it unchecked; copy.Image then
// refuses it, and SourceProblem names the archive entry at fault.
func TestReadByCopyEngine(t *testing.T) {
	ctx := context.Background()
	path, bad := corruptArchive(t, "../testdata/peers/b-oci-one.skopeo.tar")
	tests := []struct {
		name    string
		opts    Options
		readErr error // reading the blob through GetBlob
	}{
		{"checked by default", Options{}, archive.ErrDigestMismatch},
		{"served unchecked to the copy engine", Options{ReadByCopyEngine: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := NewReference(path, "")
			if err != nil {
				t.Fatal(err)
			}
			ref = WithOptions(ref, tt.opts)
			src, err := ref.NewImageSource(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			rc, _, err := src.GetBlob(ctx, bad, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if !errors.Is(err, tt.readErr) || (err == nil && digest.FromBytes(data) == bad.Digest) {
				t.Errorf("reading %s: %v, want %v, and different content", bad.Digest, err, tt.readErr)
			}

			dest, err := directory.NewReference(filepath.Join(t.TempDir(), "dir"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = copy.Image(ctx, acceptAnything(t), dest, ref, &copy.Options{})
			err = SourceProblem(ref, nil, err)
			if !errors.Is(err, archive.ErrDigestMismatch) || !strings.Contains(err.Error(), path+": blobs/") {
				t.Errorf("copy.Image: %v; want %v naming %s and its entry", err, archive.ErrDigestMismatch, path)
			}
		})
	}
}

// corruptArchive copies the single-image archive at src with one byte
// flipped in the middle of its first layer, and returns the copy's path and
// that layer.
func corruptArchive(t *testing.T, src string) (string, types.BlobInfo) {
	t.Helper()
	r, err := archive.Open(src, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, _, err := r.Manifest(r.Images()[0].Descriptor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var m imgspecv1.Manifest
	if err := json.Unmarshal(data, &m); err != nil || len(m.Layers) == 0 {
		t.Fatalf("manifest of %s: %v, %d layers", src, err, len(m.Layers))
	}
	layer := m.Layers[0]
	i := slices.IndexFunc(r.Entries(), func(e archive.Entry) bool { return e.Name == "blobs/sha256/"+layer.Digest.Encoded() })
	if i < 0 {
		t.Fatalf("%s has no entry for %s", src, layer.Digest)
	}
	entry := r.Entries()[i]
	content, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	content[entry.Offset+entry.Size/2] ^= 0xff
	path := filepath.Join(t.TempDir(), "corrupt.tar")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, types.BlobInfo{Digest: layer.Digest, Size: layer.Size}
}

func acceptAnything(t *testing.T) *signature.PolicyContext {
	t.Helper()
	policy, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { policy.Destroy() })
	return policy
}
