package transport

import (
	"context"
	"io"
	"testing"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
)

func TestImageSourceServesIndexMembers(t *testing.T) {
	ctx := context.Background()
	ref, err := NewReference("../testdata/peers/c-oci-multi.skopeo.tar", "latest")
	if err != nil {
		t.Fatal(err)
	}
	src, err := ref.NewImageSource(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	top, mt, err := src.GetManifest(ctx, nil)
	if err != nil || mt != imgspecv1.MediaTypeImageIndex {
		t.Fatalf("top-level manifest: %q, %v", mt, err)
	}
	list, err := manifest.ListFromBlob(top, mt)
	if err != nil {
		t.Fatal(err)
	}
	instances := list.Instances()
	if len(instances) != 2 {
		t.Fatalf("%d instances, want 2", len(instances))
	}
	for _, d := range instances {
		data, mt, err := src.GetManifest(ctx, &d)
		if err != nil || mt != imgspecv1.MediaTypeImageManifest || digest.FromBytes(data) != d {
			t.Fatalf("instance %s: %q, %v", d, mt, err)
		}
		m, err := manifest.FromBlob(data, mt)
		if err != nil {
			t.Fatal(err)
		}
		for _, blob := range append(m.LayerInfos(), manifest.LayerInfo{BlobInfo: m.ConfigInfo()}) {
			assertBlob(t, src, blob.BlobInfo)
		}
	}
	if sigs, err := src.GetSignatures(ctx, nil); sigs != nil || err != nil {
		t.Errorf("signatures %v, %v", sigs, err)
	}
	if !src.HasThreadSafeGetBlob() {
		t.Error("GetBlob is not thread-safe")
	}
}

func assertBlob(t *testing.T, src types.ImageSource, info types.BlobInfo) {
	t.Helper()
	rc, size, err := src.GetBlob(context.Background(), info, nil)
	if err != nil {
		t.Fatalf("blob %s: %v", info.Digest, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil || digest.FromBytes(data) != info.Digest || size != info.Size {
		t.Errorf("blob %s: %d bytes of %d, %s, %v", info.Digest, len(data), size, digest.FromBytes(data), err)
	}
}
