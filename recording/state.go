package recording

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// state is what a Recording holds; Snapshot writes a copy of it.
type state struct {
	images    map[string]imageRecord // by image name: NAME:TAG, NAME@DIGEST, or a name the seed gave
	unnamed   map[digest.Digest]imageRecord
	manifests map[digest.Digest]manifest // manifests and indexes, recorded or seeded
	blobs     map[digest.Digest]blob     // configs and layers that Content or the seed holds
}

type imageRecord struct {
	digest digest.Digest
	repo   string // what Content calls its repository; "" for a seeded image
}

type manifest struct {
	data      []byte
	mediaType string
}

type blob struct {
	repo   string
	size   int64
	seeded bool // read from the seed archive, not through Content
}

func newState() *state {
	return &state{
		images: map[string]imageRecord{}, unnamed: map[digest.Digest]imageRecord{},
		manifests: map[digest.Digest]manifest{}, blobs: map[digest.Digest]blob{},
	}
}

func (s *state) clone() *state {
	return &state{images: maps.Clone(s.images), unnamed: maps.Clone(s.unnamed), manifests: maps.Clone(s.manifests), blobs: maps.Clone(s.blobs)}
}

// addImage lists img under name, or without a name when name is "".
func (s *state) addImage(name string, img imageRecord) {
	if name == "" {
		s.unnamed[img.digest] = img
		return
	}
	s.images[name] = img
}

// entry is one image to write: an entry of index.json.
type entry struct {
	name string // "" for none
	imageRecord
}

// String names the image in log lines: by its name, else as a referrer.
func (e entry) String() string {
	if e.name != "" {
		return e.name
	}
	return e.repo + "@" + e.digest.String() + " (a referrer)"
}

// entries are the images to write: those named, by name, then those without
// a name, by digest. An image named by digest alone that an index lists is
// part of that index, not an image of its own.
func (s *state) entries() []entry {
	members := s.indexMembers()
	var list []entry
	for _, name := range slices.Sorted(maps.Keys(s.images)) {
		img := s.images[name]
		if strings.Contains(name, "@") && members[img.digest] {
			continue
		}
		list = append(list, entry{name, img})
	}
	for _, d := range slices.Sorted(maps.Keys(s.unnamed)) {
		if !members[d] {
			list = append(list, entry{"", s.unnamed[d]})
		}
	}
	return list
}

// indexMembers are the digests the indexes of the images list.
func (s *state) indexMembers() map[digest.Digest]bool {
	members := map[digest.Digest]bool{}
	for _, img := range s.images {
		s.addMembers(members, img.digest)
	}
	for d := range s.unnamed {
		s.addMembers(members, d)
	}
	return members
}

// addMembers adds to members what d lists when it is an index.
func (s *state) addMembers(members map[digest.Digest]bool, d digest.Digest) {
	m := s.manifests[d]
	if !archive.IsIndex(m.mediaType) {
		return
	}
	children, err := indexChildren(m.data)
	if err != nil {
		return // the index is left out at snapshot, saying why
	}
	for _, c := range children {
		members[c.Digest] = true
	}
}

// manifestBlobs are the layers and the config a manifest names.
func manifestBlobs(data []byte) ([]ocispec.Descriptor, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", archive.ErrInvalidMetadata, err)
	}
	return append(m.Layers, m.Config), nil
}

// indexChildren are the manifests an index lists.
func indexChildren(data []byte) ([]ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%w: index: %w", archive.ErrInvalidMetadata, err)
	}
	return idx.Manifests, nil
}
