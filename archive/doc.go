// Package archive reads container image tars in place: OCI image layouts,
// docker-save archives (docker < 25, skopeo's docker-archive:, crane's tarball)
// and the hybrids docker >= 25 writes, which are both.
//
// Open indexes the tar in one pass over its headers, skipping entry data with
// Seek, so opening reads a few kilobytes whatever the archive's size. Blobs are
// then served as sections of the file: O(1) to open, safe for concurrent use, no
// temporary files. Everything served is checked against its digest and size, and
// a mismatch is an error at EOF. A compressed archive, or one read from a pipe,
// is decompressed once into a temporary file; that is the only case that uses
// temporary space.
//
// Every archive is presented in one model: a list of Images, each a manifest or
// an index with its names (org.opencontainers.image.ref.name,
// io.containerd.image.name, docker RepoTags), platforms and size. Legacy
// docker-save images get a synthesized Docker schema2 manifest whose layers are
// named by their DiffIDs, as containers/image's docker-archive: does.
//
// As a library for tools that embed image handling: Reader.Resolve picks an
// image by selector and platform and returns its manifest, config and layers;
// OpenDir reads an OCI layout directory as a Reader; OpenLayer, ExtractLayers
// and Unpack turn layers into tars or a root filesystem; Export writes an
// image, filtered to platforms, as an OCI tar to any io.Writer; Load reads a
// tar from a stream once into a Store such as LayoutStore, an OCI layout
// directory, writing only the blobs it lacks, and LayoutStore.Prune removes
// what failed loads left; Cache fetches an image once by name and resolves it
// afterwards without its source. Everything that reads
// blobs takes a BlobOpener, which Reader, LayoutStore and Cache all are.
// docs/library.md is a short guide.
//
// Errors wrap the kinds declared in errors.go, so callers can test them with
// errors.Is. The package depends on the standard library, the OCI image-spec,
// go-digest, a compression library and golang.org/x/sys only; it never
// imports containers/image.
package archive
