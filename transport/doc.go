// Package transport is the containers/image (go.podman.io/image/v5) transport
// "oci-tar": image references of the form oci-tar:PATH[:SELECTOR] that read
// images in place from OCI-layout, docker-save and docker >= 25 hybrid tars.
//
// Importing the package registers the transport, so any tool built on
// containers/image accepts oci-tar: references:
//
//	import _ "github.com/ocitar/ocitar/transport"
//
// The format work is done by package archive; this package only adapts it to
// the types.ImageReference and types.ImageSource interfaces.
package transport
