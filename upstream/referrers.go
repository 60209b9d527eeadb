package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/ocitar/ocitar/internal/errkind"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Referrers are the manifests that name d as their subject, of artifactType
// ("" for all): from the OCI 1.1 referrers API, or, when the upstream answers
// it 404, from the index of the referrers tag schema (tag ALG-HEX). Neither
// gives none, and no error.
func (r *Repository) Referrers(ctx context.Context, d digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("upstream %s: referrers of %q: %w", r.Name(), d, err)
	}
	var query url.Values
	if artifactType != "" {
		query = url.Values{"artifactType": {artifactType}}
	}
	resp, err := r.client.get(ctx, r.path, "referrers/"+d.String(), query, []string{ocispec.MediaTypeImageIndex})
	if errors.Is(err, fs.ErrNotExist) {
		return r.referrersTag(ctx, d, artifactType)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := readManifest(resp)
	if err != nil {
		return nil, unavailable(requestName(resp.Request), err)
	}
	refs, err := referrersOf(data, artifactType)
	if err != nil {
		return nil, unavailable(requestName(resp.Request), err)
	}
	return refs, nil
}

// referrersTag is the referrers of d the tag schema's index lists.
func (r *Repository) referrersTag(ctx context.Context, d digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	tag := string(d.Algorithm()) + "-" + d.Encoded()
	data, _, _, err := r.Manifest(ctx, tag, []string{ocispec.MediaTypeImageIndex})
	if errors.Is(err, fs.ErrNotExist) {
		return []ocispec.Descriptor{}, nil
	}
	if err != nil {
		return nil, err
	}
	refs, err := referrersOf(data, artifactType)
	if err != nil {
		return nil, unavailable("GET "+redact(r.client.url(r.path, "manifests/"+tag, nil)), err)
	}
	return refs, nil
}

// referrersOf is the descriptors of the index data of artifactType ("" for
// all), each of a valid digest.
func referrersOf(data []byte, artifactType string) ([]ocispec.Descriptor, error) {
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("%w: %w: the referrers index: %w", ErrUnavailable, errkind.ErrInvalidMetadata, err)
	}
	refs := []ocispec.Descriptor{}
	for _, desc := range index.Manifests {
		if err := desc.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w: the referrers index lists %q: %w", ErrUnavailable, errkind.ErrInvalidMetadata, desc.Digest, err)
		}
		if artifactType == "" || desc.ArtifactType == artifactType {
			refs = append(refs, desc)
		}
	}
	return refs, nil
}
