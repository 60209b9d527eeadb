package integration

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestExportUnderName exports images under a new name through a pipe: docker
// load tags each with that name, and skopeo's oci-archive:FILE:NAME finds
// those with an OCI manifest by it (skopeo 1.9.3 looks names up among those
// only).
func TestExportUnderName(t *testing.T) {
	d := dockerStartDaemon(t)
	tests := []struct {
		file     string
		platform *ocispec.Platform // nil: the archive's only image, whole
		name     string
		skopeo   bool
	}{
		{"sample.docker.tar", nil, "example.com/export/sample:1", false},
		{"sample-multi.oci.tar", &ocispec.Platform{OS: "linux", Architecture: "amd64"}, "example.com/export/multi:2", true},
		{"sample-multi.oci.tar", &ocispec.Platform{OS: "linux", Architecture: "arm64"}, "example.com/export/multi:arm64", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := archive.Open(testdata(tt.file), archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			want, err := r.Resolve(archive.Selector{}, tt.platform)
			if err != nil {
				t.Fatal(err)
			}
			opts := archive.ExportOptions{Name: tt.name}
			if tt.platform != nil {
				opts.Platforms = []ocispec.Platform{*tt.platform}
			}
			out := filepath.Join(t.TempDir(), "named.tar")
			exportToFile(t, r, want.Image, out, opts)

			config := want.Manifest.Config.Digest.String()
			var diffIDs []string
			for _, id := range want.Config.RootFS.DiffIDs {
				diffIDs = append(diffIDs, id.String())
			}
			if loaded := string(d.run(t, "load", "-i", out)); !strings.Contains(loaded, "Loaded image: "+tt.name+"\n") {
				t.Errorf("docker load -i %s printed %q, want it to load %s", out, loaded, tt.name)
			}
			d.assertImage(t, tt.name, config, diffIDs)
			if !tt.skopeo {
				return
			}
			dir := filepath.Join(t.TempDir(), "dir")
			run(t, skopeo, "--override-arch", want.Config.Architecture, "copy", "oci-archive:"+out+":"+tt.name, "dir:"+dir)
			if gotConfig, gotDiffIDs := readDirImage(t, dir); gotConfig != config || !slices.Equal(gotDiffIDs, diffIDs) {
				t.Errorf("skopeo copy oci-archive:%s:%s read config %s with DiffIDs %v, want %s with %v", out, tt.name, gotConfig, gotDiffIDs, config, diffIDs)
			}
		})
	}
}
