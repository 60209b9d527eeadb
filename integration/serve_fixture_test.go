package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocitar/ocitar/archive"
)

// The archive the serve tests serve, and what each image in it must look like
// after a client pulled it.

// serveImage is one image of the served archive.
type serveImage struct {
	name     string   // its full reference in the archive
	src      string   // the testdata file it is copied from
	flags    []string // of ocitar copy, from src into the archive
	choose   []string // ocitar flags that choose its image of an index
	manifest string   // digest of its manifest or index, as ls lists it
	config   string   // digest of its config (of the linux/amd64 image of an index)
	diffIDs  []string
}

// serveArtifactType is the artifactType of the referrer in the served archive.
const serveArtifactType = "application/vnd.ocitar.test.signature"

// serveArchive is the served archive: app, an OCI image, is named by a
// registry without a port; hub, a docker v2s2 image, by docker.io; multi is a
// two-platform OCI index; other shares app's path under another registry, so
// that path alone is ambiguous to a mirror client; and referrer is an
// artifact manifest whose subject is app's manifest.
type serveArchive struct {
	path            string
	app, hub, multi serveImage
	other           serveImage // named other.example/app:1: app's path, another registry
	appBlobs        []string   // the config and layers of app's manifest
	referrer        string     // its manifest digest
}

// serveArchiveMake writes the served archive into dir: ocitar copies four
// testdata images into one tar under their names, then archive.Writer copies
// them into the final tar beside the referrer.
func serveArchiveMake(t *testing.T, dir string) *serveArchive {
	t.Helper()
	a := &serveArchive{
		path:  filepath.Join(dir, "serve.tar"),
		app:   serveImage{name: "example.com/app:1", src: "peers/b-oci-one.skopeo.tar"},
		hub:   serveImage{name: "docker.io/library/sample:1", src: "sample.docker.tar"},
		multi: serveImage{name: "example.com/multi:1", src: "sample-multi.oci.tar", flags: []string{"--all", "--preserve-digests"}, choose: []string{"--override-arch", "amd64", "--override-os", "linux"}},
		other: serveImage{name: "other.example/app:1", src: "sample.docker.tar"},
	}
	images := filepath.Join(dir, "images.tar")
	all := []*serveImage{&a.app, &a.hub, &a.multi, &a.other}
	for _, img := range all {
		args := append([]string{"copy", "--insecure-policy", "-q"}, img.flags...)
		run(t, ocitar, append(args, "oci-tar:"+testdata(img.src), "oci-tar:"+images+":"+img.name)...)
	}
	for _, img := range ls(t, images) {
		for _, want := range all {
			if len(img.Names) > 0 && img.Names[0] == want.name {
				want.manifest = img.Digest
			}
		}
	}
	for _, img := range all {
		img.config, img.diffIDs = storageConfig(t, img.choose, "oci-tar:"+images+":"+img.name)
		if img.manifest == "" {
			t.Fatalf("ocitar ls %s: no image named %s", images, img.name)
		}
	}
	a.appBlobs = serveManifestBlobs(t, "oci-tar:"+images+":"+a.app.name)
	a.referrer = serveWriteWithReferrer(t, images, a.path, a.app.manifest)
	return a
}

// serveManifestBlobs are the config and layer digests of the manifest of ref.
func serveManifestBlobs(t *testing.T, ref string) []string {
	t.Helper()
	raw := run(t, ocitar, "inspect", "--raw", ref)
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.Config.Digest == "" {
		t.Fatalf("ocitar inspect --raw %s: no image manifest (%v)\n%s", ref, err, raw)
	}
	blobs := []string{m.Config.Digest.String()}
	for _, l := range m.Layers {
		blobs = append(blobs, l.Digest.String())
	}
	return blobs
}

// serveWriteWithReferrer copies every image of src into dst and adds an
// artifact manifest whose subject is the manifest digest subject of src; it
// returns the artifact's digest.
func serveWriteWithReferrer(t *testing.T, src, dst, subject string) string {
	t.Helper()
	r, err := archive.Open(src, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := archive.NewWriter(f, archive.WriterOptions{Format: archive.FormatOCI})
	var subjectDesc *ocispec.Descriptor
	for _, img := range r.Images() {
		if err := w.CopyImage(r, img); err != nil {
			t.Fatal(err)
		}
		if img.Descriptor.Digest.String() == subject {
			subjectDesc = &ocispec.Descriptor{MediaType: img.Descriptor.MediaType, Digest: img.Descriptor.Digest, Size: img.Descriptor.Size}
		}
	}
	if subjectDesc == nil {
		t.Fatalf("%s holds no image %s", src, subject)
	}
	artifact := serveArtifact(t, w, *subjectDesc)
	if err := w.AddImage(artifact, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return artifact.Digest.String()
}

// serveArtifact stores a signature-like artifact for subject: an empty
// config, one small layer, serveArtifactType; it returns its descriptor.
func serveArtifact(t *testing.T, w *archive.Writer, subject ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	put := func(data []byte, mediaType string) ocispec.Descriptor {
		d := digest.FromBytes(data)
		if _, _, err := w.PutBlob(strings.NewReader(string(data)), d, int64(len(data))); err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
	}
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: serveArtifactType,
		Config:       put([]byte("{}"), ocispec.MediaTypeEmptyJSON),
		Layers:       []ocispec.Descriptor{put([]byte("signed by the ocitar tests\n"), serveArtifactType)},
		Subject:      &subject,
	}
	m.SchemaVersion = 2
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := w.PutManifest(data, ocispec.MediaTypeImageManifest)
	if err != nil {
		t.Fatal(err)
	}
	desc.ArtifactType = serveArtifactType
	return desc
}
