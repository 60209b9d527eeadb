// Package rootfs turns the layers of an image into uncompressed layer tars and
// root filesystems.
//
// OpenLayer gives a layer's uncompressed stream, its compression detected;
// ExtractLayers writes layers as verified, uncompressed files named by their
// DiffIDs; Unpack applies layers to a directory with OCI whiteouts and opaque
// directories, modes, times, links and extended attributes, and no entry can
// reach outside the directory: names that climb out are refused, and symlinks
// are followed as if the directory were /. A failed Unpack leaves nothing.
//
// Blobs come from any archive.BlobOpener: an archive.Reader, a store.LayoutStore
// or, through package transport, any containers/image source. Each is checked
// against its digest and, where given, its DiffID. Errors for bad input wrap
// archive's error kinds.
package rootfs
