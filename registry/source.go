package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxManifestDepth bounds how deep indexes may nest, as archive does.
const maxManifestDepth = 8

// source is one opened archive as the handler serves it: its manifests, the
// referrers of each subject, and what is known of its blobs' integrity.
type source struct {
	Archive
	manifests map[digest.Digest]string // media type of every manifest and index reachable from its images
	referrers map[digest.Digest][]ocispec.Descriptor
	blobs     map[digest.Digest]struct{} // configs and layers its manifests reference
	integrity *integrity
	onFailure func(*archive.Reader, error)
}

// manifestFields are the fields of a manifest or index the handler reads.
type manifestFields struct {
	MediaType    string               `json:"mediaType"`
	ArtifactType string               `json:"artifactType"`
	Config       *ocispec.Descriptor  `json:"config"`
	Layers       []ocispec.Descriptor `json:"layers"`
	Manifests    []ocispec.Descriptor `json:"manifests"`
	Subject      *ocispec.Descriptor  `json:"subject"`
	Annotations  map[string]string    `json:"annotations"`
}

func newSource(a Archive, opts Options) (*source, error) {
	s := &source{
		Archive:   a,
		manifests: map[digest.Digest]string{},
		referrers: map[digest.Digest][]ocispec.Descriptor{},
		blobs:     map[digest.Digest]struct{}{},
		onFailure: opts.ReadFailed,
	}
	s.integrity = newIntegrity(a.Reader, opts.Log, s.failed)
	for _, img := range a.Reader.Images() {
		if err := s.walk(img.Descriptor, 0); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// walk records the manifest or index d and what it lists. Manifests an index
// lists but the archive lacks (an archive of some platforms) are left out.
func (s *source) walk(d ocispec.Descriptor, depth int) error {
	if _, seen := s.manifests[d.Digest]; seen {
		return nil
	}
	if depth > maxManifestDepth {
		return fmt.Errorf("%s: manifest %s: indexes nest more than %d deep", s.Reader.Name(), d.Digest, maxManifestDepth)
	}
	data, storedType, err := s.Reader.Manifest(d.Digest)
	if errors.Is(err, archive.ErrMissingBlob) && depth > 0 {
		return nil
	}
	if err != nil {
		return err // names the archive
	}
	var m manifestFields
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: manifest %s: %w", s.Reader.Name(), d.Digest, err)
	}
	mediaType := firstNonEmpty(d.MediaType, storedType, m.MediaType)
	s.manifests[d.Digest] = mediaType
	if m.Subject != nil {
		s.addReferrer(m, ocispec.Descriptor{MediaType: mediaType, Digest: d.Digest, Size: int64(len(data))})
	}
	if m.Config != nil {
		s.blobs[m.Config.Digest] = struct{}{}
	}
	for _, l := range m.Layers {
		s.blobs[l.Digest] = struct{}{}
	}
	for _, child := range m.Manifests {
		if err := s.walk(child, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// addReferrer records the manifest m, described by d, as a referrer of its subject.
func (s *source) addReferrer(m manifestFields, d ocispec.Descriptor) {
	d.ArtifactType = m.ArtifactType
	if d.ArtifactType == "" && m.Config != nil {
		d.ArtifactType = m.Config.MediaType
	}
	d.Annotations = m.Annotations
	s.referrers[m.Subject.Digest] = append(s.referrers[m.Subject.Digest], d)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// verifyAll hashes every config and layer of the archive that is not known
// good or bad yet, and returns how many it found bad.
func (s *source) verifyAll(ctx context.Context) int {
	bad := 0
	for d := range s.blobs {
		if err := s.integrity.check(ctx, d); err != nil && !errors.Is(err, archive.ErrMissingBlob) && ctx.Err() == nil {
			bad++
		}
	}
	return bad
}

// failed passes err, a read of the archive that failed, to
// Options.ReadFailed, and returns it.
func (s *source) failed(err error) error {
	if s.onFailure != nil {
		s.onFailure(s.Reader, err)
	}
	return err
}

// failingReader is a reader whose errors, EOF aside, go to failed.
type failingReader struct {
	io.Reader
	failed func(error)
}

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.Reader.Read(p)
	if err != nil && err != io.EOF {
		f.failed(err)
	}
	return n, err
}

// close stops the integrity checks under way and closes the archive.
func (s *source) close() error {
	s.integrity.stop()
	return s.Reader.Close()
}
