package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/ocitar/ocitar/archive"
	digest "github.com/opencontainers/go-digest"
)

// Version is the version of the format this package reads and writes.
const Version = 1

// MaxSize is the size of the largest inventory Read accepts: about 500,000
// blobs.
const MaxSize = 64 << 20

// Inventory is what a site holds, source by source.
type Inventory struct {
	Version int      `json:"version"`
	Sources []Source `json:"sources"`
}

// Source is an archive, a layout directory or a registry's repository,
// and the blobs it holds.
type Source struct {
	archive.Base
	Blobs []Blob `json:"blobs"`
}

// Blob is one blob a source holds.
type Blob struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// New is an inventory of sources.
func New(sources ...Source) *Inventory {
	return &Inventory{Version: Version, Sources: append([]Source{}, sources...)}
}

// NewSource is the source base holding held, its blobs in digest order.
func NewSource(base archive.Base, held map[digest.Digest]int64) Source {
	s := Source{Base: base, Blobs: []Blob{}}
	for _, d := range slices.Sorted(maps.Keys(held)) {
		s.Blobs = append(s.Blobs, Blob{Digest: d, Size: held[d]})
	}
	return s
}

// FromReader is the source an opened archive or directory is.
func FromReader(r *archive.Reader) (Source, error) {
	base, held, err := r.AsBase()
	if err != nil {
		return Source{}, err
	}
	return NewSource(base, held), nil
}

// AddTo adds every source of the inventory to d as a base.
func (inv *Inventory) AddTo(d *archive.Delta) {
	for _, s := range inv.Sources {
		held := make(map[digest.Digest]int64, len(s.Blobs))
		for _, b := range s.Blobs {
			held[b.Digest] = b.Size
		}
		d.Add(s.Base, held)
	}
}

// Write writes the inventory as indented JSON and a newline.
func (inv *Inventory) Write(w io.Writer) error {
	data, err := json.MarshalIndent(inv, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// Load reads the inventory in the file at path; its errors name the file.
func Load(path string) (*Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	inv, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return inv, nil
}

// Read reads an inventory, refusing anything that is not one, with an
// error that wraps archive.ErrInvalidMetadata.
func Read(r io.Reader) (*Inventory, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: not an inventory: larger than %d bytes", archive.ErrTooLarge, MaxSize)
	}
	var inv Inventory
	if err := decodeStrict(data, &inv); err != nil {
		return nil, fmt.Errorf("%w: not an inventory: %w", archive.ErrInvalidMetadata, err)
	}
	if err := inv.validate(); err != nil {
		return nil, fmt.Errorf("%w: not an inventory: %w", archive.ErrInvalidMetadata, err)
	}
	return &inv, nil
}

// decodeStrict decodes one JSON value of known fields, and nothing after it.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return errors.New("the file is empty")
	} else if err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the inventory")
	}
	return nil
}

func (inv *Inventory) validate() error {
	if inv.Version != Version {
		return fmt.Errorf("version %d, this ocitar reads version %d", inv.Version, Version)
	}
	if inv.Sources == nil {
		return errors.New(`no "sources"`)
	}
	for i, s := range inv.Sources {
		if err := s.validate(); err != nil {
			return fmt.Errorf("source %d: %w", i, err)
		}
	}
	return nil
}

func (s Source) validate() error {
	if err := validateBase(s.Base); err != nil {
		return err
	}
	if s.Blobs == nil {
		return fmt.Errorf(`%s: no "blobs"`, s.Name)
	}
	for _, b := range s.Blobs {
		if err := b.Digest.Validate(); err != nil {
			return fmt.Errorf("%s: blob %q: %w", s.Name, b.Digest, err)
		}
		if b.Size < 0 {
			return fmt.Errorf("%s: blob %s: size %d", s.Name, b.Digest, b.Size)
		}
	}
	return nil
}

func validateBase(b archive.Base) error {
	switch b.Kind {
	case archive.BaseArchive, archive.BaseLayout:
		if b.Name == "" || strings.ContainsAny(b.Name, "/\x00") {
			return fmt.Errorf("%s %q: not a file name", b.Kind, b.Name)
		}
		if err := b.Identity.Validate(); err != nil {
			return fmt.Errorf("%s %s: identity %q: %w", b.Kind, b.Name, b.Identity, err)
		}
	case archive.BaseRegistry:
		if !strings.HasPrefix(b.Name, "docker://") {
			return fmt.Errorf("registry %q: not a docker:// URL", b.Name)
		}
		if b.Identity != "" {
			return fmt.Errorf("registry %s: an identity, which a registry has none of", b.Name)
		}
	default:
		return fmt.Errorf("kind %q: not archive, layout or registry", b.Kind)
	}
	return nil
}
