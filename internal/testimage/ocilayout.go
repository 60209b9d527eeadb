package testimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// OCIOptions says how [WriteOCILayout] writes images.
type OCIOptions struct {
	// Index puts all images in one OCI image index blob, which index.json lists once;
	// otherwise index.json lists each image's manifest.
	Index bool
	// Gzip stores layers gzip-compressed; otherwise they are stored uncompressed.
	Gzip bool
}

// AnnotationContainerdImageName is the annotation containerd (and docker 25+) put on
// index.json entries to hold the full image name.
const AnnotationContainerdImageName = "io.containerd.image.name"

// GzipLevel is the compression level of gzip layers.
const GzipLevel = gzip.DefaultCompression

// WriteOCILayout writes images to w as a tar of an OCI image layout: "oci-layout",
// the directories "blobs/" and "blobs/sha256/", every blob once as
// "blobs/sha256/<hex>" in order of digest, then "index.json".
//
// Each image gets an OCI manifest with an OCI config. Layers are
// application/vnd.oci.image.layer.v1.tar+gzip (gzip without name or time, at
// [GzipLevel]) with opts.Gzip, application/vnd.oci.image.layer.v1.tar without.
// Without opts.Index, index.json lists each manifest with its platform and with the
// image's Name in the annotations org.opencontainers.image.ref.name and
// io.containerd.image.name. With opts.Index, an image index blob lists every
// manifest with its platform, and index.json lists that index once, annotated with
// the first image's Name.
func WriteOCILayout(w io.Writer, opts OCIOptions, images ...Image) error {
	if len(images) == 0 {
		return errors.New("testimage: no images to write")
	}
	blobs := map[digest.Digest][]byte{}
	add := func(mediaType string, b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		blobs[d] = b
		return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
	}

	var manifests []ocispec.Descriptor
	for _, img := range images {
		m := ocispec.Manifest{
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    add(ocispec.MediaTypeImageConfig, img.Config),
			Layers:    []ocispec.Descriptor{},
		}
		m.SchemaVersion = 2
		for _, layer := range img.Layers {
			if opts.Gzip {
				gz, err := gzipBytes(layer)
				if err != nil {
					return err
				}
				m.Layers = append(m.Layers, add(ocispec.MediaTypeImageLayerGzip, gz))
			} else {
				m.Layers = append(m.Layers, add(ocispec.MediaTypeImageLayer, layer))
			}
		}
		d := add(ocispec.MediaTypeImageManifest, mustJSON(m))
		platform := img.Platform
		d.Platform = &platform
		manifests = append(manifests, d)
	}

	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex}
	index.SchemaVersion = 2
	if opts.Index {
		inner := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
		inner.SchemaVersion = 2
		d := add(ocispec.MediaTypeImageIndex, mustJSON(inner))
		d.Annotations = nameAnnotations(images[0].Name)
		index.Manifests = []ocispec.Descriptor{d}
	} else {
		for i, d := range manifests {
			d.Annotations = nameAnnotations(images[i].Name)
			index.Manifests = append(index.Manifests, d)
		}
	}

	tw := tar.NewWriter(w)
	if err := writeEntry(tw, ocispec.ImageLayoutFile, mustJSON(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})); err != nil {
		return err
	}
	for _, name := range []string{"blobs/", "blobs/sha256/"} {
		if err := writeEntry(tw, name, nil); err != nil {
			return err
		}
	}
	for _, d := range slices.Sorted(maps.Keys(blobs)) {
		if err := writeEntry(tw, "blobs/sha256/"+d.Encoded(), blobs[d]); err != nil {
			return err
		}
	}
	if err := writeEntry(tw, ocispec.ImageIndexFile, mustJSON(index)); err != nil {
		return err
	}
	return tw.Close()
}

// nameAnnotations returns the index.json annotations naming an image, or nil for no name.
func nameAnnotations(name string) map[string]string {
	if name == "" {
		return nil
	}
	return map[string]string{ocispec.AnnotationRefName: name, AnnotationContainerdImageName: name}
}

// gzipBytes compresses b with no name or modification time in the header, at GzipLevel.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, GzipLevel)
	if err != nil {
		return nil, err
	}
	// Set MTIME to 0 ("no time") explicitly: klauspost/compress v1.20.3 writes
	// uint32(ModTime.Unix()) even for the zero time.Time, which gives a bogus
	// 2042-07-14 instead of the 0 compress/gzip writes.
	zw.ModTime = time.Unix(0, 0)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
