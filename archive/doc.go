// Package archive reads and writes container image tars in place: OCI image
// layouts, docker-save archives (docker < 25, skopeo's docker-archive:,
// crane's tarball) and the hybrids docker >= 25 writes, which are both; and
// OCI layout directories.
//
// Open indexes the tar in one pass over its headers, skipping entry data with
// Seek, so opening reads a few kilobytes whatever the archive's size. Blobs are
// then served as sections of the file: O(1) to open, safe for concurrent use, no
// temporary files. Everything served is checked against its digest and size, and
// a mismatch is an error at EOF. A compressed archive, or one read from a pipe,
// is decompressed once into a temporary file (OpenStream); Ingest reads a
// stream once without spooling, putting its blobs into a BlobSink. OpenDir
// reads an OCI layout directory.
//
// Every archive is presented in one model: a list of Images, each a manifest or
// an index with its names (org.opencontainers.image.ref.name,
// io.containerd.image.name, docker RepoTags), platforms and size. Legacy
// docker-save images get a synthesized Docker schema2 manifest whose layers are
// named by their DiffIDs, as containers/image's docker-archive: does.
// Selector picks an image by name, position or digest; Reader.Resolve picks
// the manifest of a platform and returns it with its config.
//
// Writer writes an archive as a stream, deduplicating blobs, as an OCI layout
// plus docker's manifest.json (hybrid) or an OCI layout alone; Export writes an
// image of a Reader, filtered to platforms and under a name of the caller's,
// to any io.Writer. Verify checks an archive whole.
//
// A delta is an archive written against bases (WriterOptions.Delta): it
// holds every manifest, index and config of its images and only the layers
// its bases lack. Reader.AsBase collects what an archive holds as a base
// (its Identity, the digest of its index.json or of docker's manifest.json,
// and the digests its index names, without hashing blobs); the delta's
// index.json records its bases under AnnotationBases, which Reader.Bases
// reads back. OpenStack reads a delta on top of its bases.
//
// The packages beside this one build on it: store keeps images in an OCI
// layout directory (Load, Cache, Prune), rootfs turns layers into tars and
// root filesystems (OpenLayer, ExtractLayers, Unpack). They read blobs
// through BlobOpener, which Reader implements. docs/library.md is a short guide.
//
// Errors wrap the kinds declared in errors.go, so callers can test them with
// errors.Is; store and rootfs wrap the same kinds. The package depends on the
// standard library, the OCI image-spec, go-digest and a compression library
// only; it never imports containers/image.
package archive
