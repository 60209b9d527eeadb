package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ocitar/ocitar/archive"
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
