// Package store keeps container images in an OCI image layout directory, the
// form skopeo's and umoci's oci:DIR:NAME read.
//
// LayoutStore holds blobs by digest, each written to a temporary file,
// verified, synced and renamed, and lists images by name in index.json,
// updated atomically under a lock. Load reads an image tar from a stream once
// into a Store, writing only the blobs it lacks. Cache resolves images by
// name, fetching from a Source (an archive through ReaderSource, any
// containers/image transport through transport.CacheFetch) only what it
// lacks, for the platform asked, safe for concurrent use. Prune
// removes what no listed image reaches, as a failed load leaves it; Hold keeps
// Prune away while blobs are written and not yet listed.
//
// Images are read through package archive: archive.OpenDir opens the
// directory as an archive.Reader, and a LayoutStore is an archive.BlobOpener
// for package rootfs. Errors for bad input wrap archive's error kinds; ErrBusy
// is this package's own.
package store
