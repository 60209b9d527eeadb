package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
)

// TestDestFormat writes the docker-save sample with each --format and
// --dest-oci-only: --format chooses the manifest type alone, and the archive
// holds docker's manifest.json and repositories unless --dest-oci-only.
func TestDestFormat(t *testing.T) {
	const src = "oci-tar:../../testdata/sample.docker.tar"
	tests := []struct {
		name      string
		args      []string // the command line before the destination
		mediaType string   // of the image's manifest
		docker    bool     // manifest.json and repositories are written
	}{
		{"copy keeps the type", []string{"copy", "-q", src}, manifest.DockerV2Schema2MediaType, true},
		{"copy -f oci", []string{"copy", "-q", "-f", "oci", src}, imgspecv1.MediaTypeImageManifest, true},
		{"copy --format v2s2", []string{"copy", "-q", "--format", "v2s2", "oci-tar:../../testdata/sample-multi.oci.tar:@0", "--override-arch", "amd64"},
			manifest.DockerV2Schema2MediaType, true},
		{"copy --dest-oci-only", []string{"copy", "-q", "--dest-oci-only", src}, imgspecv1.MediaTypeImageManifest, false},
		{"copy --dest-oci-only -f oci", []string{"copy", "-q", "--dest-oci-only", "-f", "oci", src}, imgspecv1.MediaTypeImageManifest, false},
		{"save -f oci", []string{"save", "-q", "-f", "oci", src, "-o"}, imgspecv1.MediaTypeImageManifest, true},
		{"save --dest-oci-only", []string{"save", "-q", "--dest-oci-only", src, "-o"}, imgspecv1.MediaTypeImageManifest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.tar")
			dest := out
			if tt.args[0] == "copy" {
				dest = "oci-tar:" + out + ":example.com/a:1"
			}
			mustOcitar(t, append(slices.Clone(tt.args), dest)...)
			r, err := archive.Open(out, archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			images := r.Images()
			if len(images) != 1 || images[0].Descriptor.MediaType != tt.mediaType {
				t.Fatalf("%s holds %+v, want one image of type %s", out, images, tt.mediaType)
			}
			for _, name := range []string{"manifest.json", "repositories"} {
				if got := hasEntry(r, name); got != tt.docker {
					t.Errorf("%s holds %s: %v, want %v", out, name, got, tt.docker)
				}
			}
		})
	}
}

func hasEntry(r *archive.Reader, name string) bool {
	return slices.ContainsFunc(r.Entries(), func(e archive.Entry) bool { return e.Name == name })
}

// TestDestFormatRefused gives values and combinations that cannot be
// written: each fails with one line saying why, and nothing is written.
func TestDestFormatRefused(t *testing.T) {
	const src = "oci-tar:../../testdata/sample.docker.tar"
	tests := []struct {
		args []string // the command line before the destination
		dest string   // the destination, after its directory
		want string
	}{
		{[]string{"copy", "--format", "hybrid", src}, "oci-tar:DIR/out.tar", `unknown --format "hybrid": use oci, v2s2 or v2s1`},
		{[]string{"copy", "-f", "docker", src}, "dir:DIR/out", `unknown --format "docker"`},
		{[]string{"copy", "--dest-oci-only", "-f", "v2s2", src}, "oci-tar:DIR/out.tar", "--dest-oci-only writes OCI manifests only, not --format v2s2"},
		{[]string{"copy", "--dest-oci-only", "-f", "v2s1", src}, "oci-tar:DIR/out.tar", "--dest-oci-only writes OCI manifests only, not --format v2s1"},
		{[]string{"copy", "--dest-oci-only", src}, "docker-archive:DIR/out.tar", "--dest-oci-only applies to oci-tar: destinations, not docker-archive:"},
		{[]string{"copy", "--dest-oci-only", src}, "dir:DIR/out", "--dest-oci-only applies to oci-tar: destinations, not dir:"},
		{[]string{"save", "--format", "hybrid", src, "-o"}, "DIR/out.tar", `unknown --format "hybrid"`},
		{[]string{"save", "--dest-oci-only", "--format", "v2s2", src, "-o"}, "DIR/out.tar", "--dest-oci-only writes OCI manifests only, not --format v2s2"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " ")+" "+tt.dest, func(t *testing.T) {
			dir := t.TempDir()
			args := append(slices.Clone(tt.args), strings.Replace(tt.dest, "DIR", dir, 1))
			status, stdout, stderr := ocitar(t, args...)
			if status != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and one line saying %q", status, stdout, stderr, tt.want)
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
				t.Errorf("%s holds %v (%v) after the failure, want nothing", dir, entries, err)
			}
		})
	}
}
