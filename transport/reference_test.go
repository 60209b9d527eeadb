package transport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"go.podman.io/image/v5/directory"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

func TestParseReferenceRoundTrip(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"/tmp/a.tar", "oci-tar:/tmp/a.tar"},
		{"/tmp/a.tar:", "oci-tar:/tmp/a.tar"},
		{"/tmp/a.tar:latest", "oci-tar:/tmp/a.tar:latest"},
		{"/tmp/a.tar:example.com/x/y:1", "oci-tar:/tmp/a.tar:example.com/x/y:1"},
		{"/tmp/a.tar:@3", "oci-tar:/tmp/a.tar:@3"},
		{"-:alpine", "oci-tar:-:alpine"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ref, err := Transport.ParseReference(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			name := transports.ImageName(ref)
			if name != tt.want {
				t.Errorf("ImageName = %q, want %q", name, tt.want)
			}
			again, err := Transport.ParseReference(ref.StringWithinTransport())
			if err != nil || transports.ImageName(again) != name {
				t.Errorf("reparsing %q: %v, %v", ref.StringWithinTransport(), again, err)
			}
		})
	}
}

func TestParseReferenceRejects(t *testing.T) {
	for _, in := range []string{"", ":latest", "/tmp/a.tar:@x", "/tmp/a.tar:@sha256:12"} {
		t.Run(in, func(t *testing.T) {
			if ref, err := Transport.ParseReference(in); err == nil {
				t.Errorf("accepted as %v", ref)
			}
		})
	}
}

func TestReferenceDockerReference(t *testing.T) {
	tests := []struct{ selector, want string }{
		{"", ""},
		{"latest", ""},
		{"@0", ""},
		{"alpine:3", "docker.io/library/alpine:3"},
		{"example.com/x/y:1", "example.com/x/y:1"},
		{"example.com/x/y", ""},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			ref, err := NewReference("/tmp/a.tar", tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if named := ref.DockerReference(); named != nil {
				got = named.String()
			}
			if got != tt.want {
				t.Errorf("DockerReference = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReferencePolicyScopes(t *testing.T) {
	dir := t.TempDir()
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := NewReference(filepath.Join(dir, "a.tar"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if got := ref.PolicyConfigurationIdentity(); got != resolved+"/a.tar" {
		t.Errorf("identity %q", got)
	}
	namespaces := ref.PolicyConfigurationNamespaces()
	if len(namespaces) == 0 || namespaces[0] != resolved || slices.Contains(namespaces, "/") {
		t.Errorf("namespaces %q", namespaces)
	}
	for _, scope := range append(namespaces, ref.PolicyConfigurationIdentity()) {
		if err := Transport.ValidatePolicyConfigurationScope(scope); err != nil {
			t.Errorf("scope %q: %v", scope, err)
		}
	}
	for _, bad := range []string{"relative", "/", "/a/../b", "/a/"} {
		if Transport.ValidatePolicyConfigurationScope(bad) == nil {
			t.Errorf("scope %q accepted", bad)
		}
	}
}

func TestTransportRegistered(t *testing.T) {
	if transports.Get("oci-tar") != Transport {
		t.Error("oci-tar is not registered")
	}
}

// TestWithOptionsReachArchives: the reader options a reference carries are
// those its source opens the archive with, and those its destination opens the
// file it adds to with; other transports' references are left as they are.
func TestWithOptionsReachArchives(t *testing.T) {
	ctx := context.Background()
	const fixture = "../testdata/peers/c-oci-multi.skopeo.tar"
	existing := filepath.Join(t.TempDir(), "existing.tar")
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(existing, data, 0o644); err != nil {
		t.Fatal(err)
	}
	opens := []struct {
		what string
		open func(types.ImageReference) error
	}{
		{"source", func(ref types.ImageReference) error {
			src, err := ref.NewImageSource(ctx, nil)
			if err == nil {
				src.Close()
			}
			return err
		}},
		{"destination adding to the file", func(ref types.ImageReference) error {
			dest, err := ref.NewImageDestination(ctx, nil)
			if err == nil {
				dest.Close()
			}
			return err
		}},
	}
	tests := []struct {
		name    string
		opts    archive.Options
		wantErr error
	}{
		{"defaults", archive.Options{}, nil},
		{"too few entries allowed", archive.Options{MaxEntries: 2}, archive.ErrTooLarge},
	}
	for _, o := range opens {
		for _, tt := range tests {
			t.Run(o.what+"/"+tt.name, func(t *testing.T) {
				path, sel := fixture, "latest"
				if o.what != "source" {
					path, sel = existing, "example.com/added:1"
				}
				ref, err := NewReference(path, sel)
				if err != nil {
					t.Fatal(err)
				}
				if err := o.open(WithOptions(ref, Options{Reader: tt.opts})); !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
			})
		}
	}
	dir, err := directory.NewReference(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := WithOptions(dir, Options{Format: archive.FormatOCI}); got != dir {
		t.Errorf("WithOptions changed a dir: reference: %v", got)
	}
}
