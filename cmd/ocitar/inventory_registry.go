package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/inventory"
	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

const dockerPrefix = "docker://"

// maxIndexDepth bounds the indexes nested in a registry's index, as archive does.
const maxIndexDepth = 8

// registrySource is the source a registry's repository is, holding the
// manifests, configs and layers of the images its tags name (or of the
// one image location names with a tag or digest).
func registrySource(ctx context.Context, sys *types.SystemContext, location string) (inventory.Source, error) {
	named, err := reference.ParseNormalizedNamed(strings.TrimPrefix(location, dockerPrefix))
	if err != nil {
		return inventory.Source{}, fmt.Errorf("%s: %w", location, err)
	}
	refs, err := repositoryImages(ctx, sys, named)
	if err != nil {
		return inventory.Source{}, fmt.Errorf("%s: %w", location, err)
	}
	held := map[digest.Digest]int64{}
	for _, ref := range refs {
		if err := addRegistryImage(ctx, sys, ref, held); err != nil {
			return inventory.Source{}, fmt.Errorf("%s: %w", transports.ImageName(ref), err)
		}
	}
	return inventory.NewSource(archive.Base{Kind: archive.BaseRegistry, Name: dockerPrefix + named.Name()}, held), nil
}

// repositoryImages are the image named, or every tag of its repository
// when named has neither tag nor digest.
func repositoryImages(ctx context.Context, sys *types.SystemContext, named reference.Named) ([]types.ImageReference, error) {
	if !reference.IsNameOnly(named) {
		ref, err := docker.NewReference(named)
		return []types.ImageReference{ref}, err
	}
	repo, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		return nil, err
	}
	tags, err := docker.GetRepositoryTags(ctx, sys, repo)
	if err != nil {
		return nil, fmt.Errorf("listing tags: %w", err)
	}
	slices.Sort(tags)
	refs := make([]types.ImageReference, 0, len(tags))
	for _, tag := range tags {
		tagged, err := reference.WithTag(named, tag)
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", tag, err)
		}
		ref, err := docker.NewReference(tagged)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

func addRegistryImage(ctx context.Context, sys *types.SystemContext, ref types.ImageReference, held map[digest.Digest]int64) error {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return err
	}
	defer src.Close()
	return addManifest(ctx, src, nil, held, 0)
}

// addManifest adds the manifest instance of src (nil: the image's own) to
// held, with the config and layers it lists or, for an index, what its
// members list.
func addManifest(ctx context.Context, src types.ImageSource, instance *digest.Digest, held map[digest.Digest]int64, depth int) error {
	if depth > maxIndexDepth {
		return fmt.Errorf("indexes nested deeper than %d", maxIndexDepth)
	}
	data, mimeType, err := src.GetManifest(ctx, instance)
	if err != nil {
		return err
	}
	held[digest.FromBytes(data)] = int64(len(data))
	if manifest.MIMETypeIsMultiImage(mimeType) {
		list, err := manifest.ListFromBlob(data, mimeType)
		if err != nil {
			return err
		}
		for _, d := range list.Instances() {
			if err := addManifest(ctx, src, &d, held, depth+1); err != nil {
				return fmt.Errorf("manifest %s: %w", d, err)
			}
		}
		return nil
	}
	m, err := manifest.FromBlob(data, mimeType)
	if err != nil {
		return err
	}
	if config := m.ConfigInfo(); config.Digest != "" {
		held[config.Digest] = config.Size
	}
	for _, l := range m.LayerInfos() {
		held[l.Digest] = l.Size
	}
	return nil
}
