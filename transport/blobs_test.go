package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/types"
)

// blobSource is an ImageSource that serves blobs from memory, unverified,
// with the size it is told to report.
type blobSource struct {
	types.ImageSource // nil: only GetBlob and Reference are called
	ref               types.ImageReference
	blobs             map[digest.Digest][]byte
	size              int64 // reported by GetBlob
}

func (s blobSource) Reference() types.ImageReference { return s.ref }

func (s blobSource) GetBlob(_ context.Context, info types.BlobInfo, _ types.BlobInfoCache) (io.ReadCloser, int64, error) {
	data, ok := s.blobs[info.Digest]
	if !ok {
		return nil, 0, fmt.Errorf("no blob %s", info.Digest)
	}
	return io.NopCloser(bytes.NewReader(data)), s.size, nil
}

func TestBlobOpenerOpenBlob(t *testing.T) {
	content := []byte("layer content")
	good := digest.FromBytes(content)
	other := digest.FromString("other content")
	ref, err := Transport.ParseReference("/tmp/blobs.tar")
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[digest.Digest][]byte{good: content, other: content}
	tests := []struct {
		name     string
		d        digest.Digest
		reported int64            // size GetBlob reports
		known    []types.BlobInfo // given to NewBlobOpener
		want     error            // on open or at EOF
	}{
		{"verified", good, int64(len(content)), nil, nil},
		{"size unknown", good, -1, nil, nil},
		{"known size matches", good, -1, []types.BlobInfo{{Digest: good, Size: int64(len(content))}}, nil},
		{"content differs", other, -1, nil, archive.ErrDigestMismatch},
		{"longer than known", good, -1, []types.BlobInfo{{Digest: good, Size: 3}}, archive.ErrSizeMismatch},
		{"shorter than known", good, -1, []types.BlobInfo{{Digest: good, Size: 100}}, archive.ErrSizeMismatch},
		{"source reports another size", good, 3, []types.BlobInfo{{Digest: good, Size: int64(len(content))}}, archive.ErrSizeMismatch},
		{"not a digest", "sha256:../x", -1, nil, archive.ErrUnsupportedDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := blobSource{ref: ref, blobs: blobs, size: tt.reported}
			rc, _, err := NewBlobOpener(context.Background(), src, tt.known).OpenBlob(tt.d)
			if err == nil {
				var got []byte
				got, err = io.ReadAll(rc)
				rc.Close()
				if err == nil && !bytes.Equal(got, content) {
					t.Errorf("read %q, want %q", got, content)
				}
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestBlobOpenerOciTar checks that an oci-tar: source's blobs come checked
// from its archive, with errors that name the file and the entry.
func TestBlobOpenerOciTar(t *testing.T) {
	var l testimage.Layout
	manifest := l.Image("amd64", "layer one")
	l.Index(manifest)
	layer := digest.FromString("layer one")
	entry := "blobs/sha256/" + layer.Encoded()
	corrupt := l
	corrupt.Files = slices.Clone(l.Files)
	for i, f := range corrupt.Files {
		if f.Name == entry {
			corrupt.Files[i].Body = "layer ONE"
		}
	}
	tests := []struct {
		name   string
		layout testimage.Layout
		want   error
	}{
		{"intact", l, nil},
		{"blob not its digest", corrupt, archive.ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "image.tar")
			if err := os.WriteFile(path, tt.layout.Tar(t), 0o644); err != nil {
				t.Fatal(err)
			}
			ref, err := Transport.ParseReference(path)
			if err != nil {
				t.Fatal(err)
			}
			src, err := ref.NewImageSource(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			rc, size, err := NewBlobOpener(context.Background(), src, nil).OpenBlob(layer)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, entry) {
					t.Errorf("error %q names neither %s nor %s", msg, path, entry)
				}
				return
			}
			if string(got) != "layer one" || size != int64(len(got)) {
				t.Errorf("read %q, size %d, want %q", got, size, "layer one")
			}
		})
	}
}
