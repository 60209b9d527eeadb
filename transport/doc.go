// Package transport is the containers/image (go.podman.io/image/v5) transport
// "oci-tar": image references of the form oci-tar:PATH[:SELECTOR] that read
// images in place from OCI-layout, docker-save and docker >= 25 hybrid tars.
//
// Importing the package registers the transport, so any tool built on
// containers/image accepts oci-tar: references:
//
//	import _ "github.com/ocitar/ocitar/transport"
//
// The same holds for skopeo, podman and buildah: containers/image loads no
// plugins, so an installed ocitar teaches an installed skopeo nothing, but a
// build of one with that blank import in any of its packages (for skopeo,
// beside the imports of cmd/skopeo/main.go) and a go.mod that requires
// github.com/ocitar/ocitar speaks oci-tar:. make skopeo SKOPEO_SRC=DIR
// (hack/build-skopeo.sh) builds skopeo so from its source tree; Example
// (Embedding) gives the commands by hand.
//
// The format work is done by package archive; this package only adapts it to
// the types.ImageReference, ImageSource and ImageDestination interfaces.
// ArchiveWriter lets several copies add images to one file. It also adapts
// containers/image to the library: NewBlobOpener makes any source a
// BlobOpener for package rootfs, and CacheFetch makes any transport (docker://,
// containers-storage:, oci:, docker-archive:, oci-tar:) a source of a
// store.Cache, so that store stays free of containers/image.
//
// Every blob an oci-tar: source serves is checked against its digest, by the
// source itself, unless the reference says, with Options.ReadByCopyEngine,
// that only copy.Image reads it: the copy engine checks what it reads, so the
// source then serves stored blobs as they are, and each blob is hashed once.
// A destination likewise leaves the check of the stream to the copy engine
// (imageDestination.PutBlob), as the contract of types.ImageDestination allows.
package transport
