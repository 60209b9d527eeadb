package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/store"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// exportToFile runs archive.Export of img into a pipe, and copies the pipe into the file out.
func exportToFile(t *testing.T, r *archive.Reader, img archive.Image, out string, opts archive.ExportOptions) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := archive.Export(pw, r, img, opts)
		pw.CloseWithError(err)
		done <- err
	}()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	_, copyErr := io.Copy(f, pr)
	if err := errors.Join(<-done, copyErr, f.Close()); err != nil {
		t.Fatal(err)
	}
}

// tarIndex is the index.json of the tar at path.
func tarIndex(t *testing.T, path string) ocispec.Index {
	t.Helper()
	for _, e := range readTar(t, path) {
		if e.name == "index.json" {
			var index ocispec.Index
			if err := json.Unmarshal(e.data, &index); err != nil {
				t.Fatalf("%s: index.json: %v", path, err)
			}
			return index
		}
	}
	t.Fatalf("%s has no index.json", path)
	return ocispec.Index{}
}

// TestExportOnePlatform exports each platform of the two-platform index of
// sample-multi.oci.tar through a pipe, and has skopeo read the result.
func TestExportOnePlatform(t *testing.T) {
	r, err := archive.Open(testdata("sample-multi.oci.tar"), archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img := r.Images()[0]
	if len(img.Platforms) != 2 {
		t.Fatalf("sample-multi.oci.tar: %d platforms, want 2", len(img.Platforms))
	}
	for _, platform := range img.Platforms {
		t.Run(archive.PlatformString(platform), func(t *testing.T) {
			want, err := r.Resolve(archive.Selector{}, &platform)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "one.tar")
			exportToFile(t, r, img, out, archive.ExportOptions{Platforms: []ocispec.Platform{platform}})
			index := tarIndex(t, out)
			if len(index.Manifests) != 1 || index.Manifests[0].Digest != want.Descriptor.Digest {
				t.Fatalf("index.json lists %v, want only %s", index.Manifests, want.Descriptor.Digest)
			}
			if name := index.Manifests[0].Annotations[ocispec.AnnotationRefName]; !slices.Contains(img.Names, name) {
				t.Errorf("the manifest is named %q, want one of %v", name, img.Names)
			}
			dir := filepath.Join(t.TempDir(), "dir")
			run(t, skopeo, "copy", "oci-archive:"+out, "dir:"+dir)
			if config, _ := readDirImage(t, dir); config != want.Manifest.Config.Digest.String() {
				t.Errorf("skopeo read config %s, want %s", config, want.Manifest.Config.Digest)
			}
		})
	}
}

// loadFile loads the archive at path into st through a pipe, which cannot seek.
func loadFile(t *testing.T, st store.Store, path string) (store.Loaded, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	go func() { _, err := io.Copy(pw, f); pw.CloseWithError(err) }()
	defer pr.Close()
	return store.Load(st, pr, archive.Options{})
}

// TestLoadTwice loads archives twice into an OCI layout directory, counts
// the blobs written, and has skopeo read the images from the directory.
func TestLoadTwice(t *testing.T) {
	for _, name := range []string{"sample-multi.oci.tar", "sample.docker.tar", "peers/h-hello-world-docker25.ggcr-fixture.tar"} {
		t.Run(name, func(t *testing.T) {
			st, err := store.OpenLayoutStore(filepath.Join(t.TempDir(), "store"))
			if err != nil {
				t.Fatal(err)
			}
			first, err := loadFile(t, st, testdata(name))
			if err != nil {
				t.Fatal(err)
			}
			second, err := loadFile(t, st, testdata(name))
			if err != nil {
				t.Fatal(err)
			}
			if first.BlobsWritten == 0 || second.BlobsWritten != 0 {
				t.Errorf("blobs written: %d, then %d; want some, then 0", first.BlobsWritten, second.BlobsWritten)
			}
			src, err := archive.Open(testdata(name), archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			for i, loaded := range first.Images {
				ref := loaded.Descriptor.Annotations[ocispec.AnnotationRefName]
				platform := src.Images()[i].Platforms[0]
				want, err := src.Resolve(archive.Selector{}, &platform)
				if err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join(t.TempDir(), "dir")
				run(t, skopeo, "--override-os", platform.OS, "--override-arch", platform.Architecture, "--override-variant", platform.Variant,
					"copy", "oci:"+st.Dir()+":"+ref, "dir:"+dir)
				if config, _ := readDirImage(t, dir); config != want.Manifest.Config.Digest.String() {
					t.Errorf("skopeo read config %s from oci:%s:%s, want %s", config, st.Dir(), ref, want.Manifest.Config.Digest)
				}
			}
		})
	}
}

// TestLoadIntoReadOnlyStore loads into a store on a read-only file system:
// the error names the store, and nothing is left behind.
func TestLoadIntoReadOnlyStore(t *testing.T) {
	dir := t.TempDir()
	mountTmpfs(t, dir, "ro,size=4m")
	if _, err := store.OpenLayoutStore(filepath.Join(dir, "store")); err == nil || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("opening a store on a read-only file system: %v", err)
	}

	dir = t.TempDir()
	mountTmpfs(t, dir, "size=16m")
	st, err := store.OpenLayoutStore(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	before := treeOf(t, st.Dir())
	mount(t, "-o", "remount,ro", dir)
	_, err = loadFile(t, st, testdata("sample.docker.tar"))
	if err == nil || !strings.Contains(err.Error(), st.Dir()) || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("loading into a read-only store: %v; want an error naming %s", err, st.Dir())
	}
	if after := treeOf(t, st.Dir()); !slices.Equal(before, after) {
		t.Errorf("the store held %v, now %v", before, after)
	}
}

// treeOf lists the paths under dir with their sizes.
func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprint(strings.TrimPrefix(path, dir), " ", info.Mode(), " ", info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
