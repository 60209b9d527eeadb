// Package recording keeps what a pull-through mirror served and writes it as
// an ordinary ocitar archive, atomically.
//
// A Recording is told each manifest, index, config and layer served
// (Manifest, Blob) under the repository name the client asked for. It
// reads the bytes it writes through a Content, ocitar serve's archives and
// upstreams, and starts in the background what a snapshot will need that no
// client fetched: the config and layers of a recorded manifest (a client that
// had them asked for none), and, with Options.Referrers, the referrers and the
// cosign tags (sha256-HEX.sig, .att, .sbom) of each recorded manifest, one
// level deep.
//
// Snapshot writes only whole images: a manifest with its config and layers; an
// index as it was served, listing all its platforms, with those of its
// platform manifests that were recorded whole, the others absent as in an
// archive of some platforms. A manifest recorded by tag is the image
// NAME:TAG, one recorded by digest the image NAME@DIGEST unless it is a member
// of a recorded index; referrers are images without a name. What cannot be
// had whole is left out and logged, never written in part. The archive goes
// to a temporary file beside its path, synced and renamed into place, and the
// lock list (image name -> digest, JSON) beside it the same way, so a crash
// at any point leaves the previous snapshot whole.
//
// A recording to a path that holds an archive already keeps its images: a
// second run adds to the first, reading the first one's blobs from the old
// file, which stays open until Close.
//
// The package depends on archive/, go-digest, the OCI image-spec and the
// standard library; it never imports registry/, upstream/ or containers/image.
package recording
