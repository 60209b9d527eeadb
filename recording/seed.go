package recording

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ocitar/ocitar/archive"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// openSeed opens the archive at path, if there is one, and adds its images
// to st: their manifests read into memory, their other blobs to be read from
// the archive at snapshot time.
func openSeed(path string, st *state) (*archive.Reader, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	seed, err := archive.Open(path, archive.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w (a recording adds to the archive at its path: move the file away to start afresh)", err)
	}
	for _, img := range seed.Images() {
		if err := addSeeded(st, seed, img); err != nil {
			seed.Close()
			return nil, fmt.Errorf("recording to an existing archive: %w", err)
		}
	}
	return seed, nil
}

// addSeeded adds img of seed to st under the names it has there.
func addSeeded(st *state, seed *archive.Reader, img archive.Image) error {
	for _, b := range img.Blobs {
		if err := addSeededBlob(st, seed, b); err != nil {
			return fmt.Errorf("image %s: %w", img, err)
		}
	}
	names := seededNames(img)
	if len(names) == 0 {
		st.addImage("", imageRecord{digest: img.Descriptor.Digest})
	}
	for _, name := range names {
		st.addImage(name, imageRecord{digest: img.Descriptor.Digest})
	}
	return nil
}

// addSeededBlob keeps a manifest or index of seed in memory, and notes that
// seed holds any other blob; a foreign layer it lacks is left unnoted.
func addSeededBlob(st *state, seed *archive.Reader, b ocispec.Descriptor) error {
	if archive.IsIndex(b.MediaType) || archive.IsManifest(b.MediaType) {
		data, mediaType, err := seed.Manifest(b.Digest)
		if err != nil {
			return err
		}
		st.manifests[b.Digest] = manifest{data: data, mediaType: mediaType}
		return nil
	}
	rc, _, err := seed.OpenBlob(b.Digest)
	if errors.Is(err, archive.ErrMissingBlob) {
		return nil
	}
	if err != nil {
		return err
	}
	rc.Close()
	st.blobs[b.Digest] = blob{size: b.Size, seeded: true}
	return nil
}

// seededNames are the names an image is recorded under again: its
// org.opencontainers.image.ref.name (not the io.containerd.image.name a
// Writer adds beside it), else those docker's manifest.json gives it.
func seededNames(img archive.Image) []string {
	if name := img.Descriptor.Annotations[ocispec.AnnotationRefName]; name != "" {
		return []string{name}
	}
	return img.Names
}
