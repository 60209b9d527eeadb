// Package registry serves image archives read-only over the OCI Distribution
// API v2, so that docker, podman, containerd, skopeo and any other registry
// client pull from a tar file in place, by name or using it as a mirror.
//
// A Handler is an http.Handler over a set of opened archives (archive.Open,
// archive.OpenDir); an embedder mounts it at the root of its own server.
// It answers GET /v2/, manifests by tag and digest, blobs by digest (one
// Range, If-None-Match), tags and catalog lists with n and last, and the OCI
// 1.1 referrers API; every push and delete endpoint answers 405 UNSUPPORTED.
//
// Repository names: an image named by a full reference REGISTRY/PATH:TAG is
// served as REGISTRY/PATH when REGISTRY has no port, and as PATH for clients
// that use the server as a mirror of REGISTRY; containerd's ?ns=REGISTRY
// picks the registry exactly. docker.io names are normalized (alpine is
// library/alpine). A PATH that images of several registries share is
// ambiguous without ns and answered NAME_UNKNOWN. Images named by a tag alone
// are served in their Archive's Repo. A tag that images of different digests
// claim is served by none of them.
//
// Blobs are served from their place in the tar, with no copy of the archive.
// Each blob is hashed once per archive,
// on its first request or by Verify; until its hash is known, its last byte
// is held back, so a blob that fails its digest is never sent complete.
// Nothing a request names is joined into a path: names and digests are only
// looked up in the archives' indexes.
//
// Pull-through: with Options.Upstream, what the archives lack (a repository,
// a tag, a digest, a blob, referrers) is asked of the upstream that Route
// names for the repository and ?ns=; when it names none, nothing is
// contacted. Options.Pulled hears each manifest answered and each blob sent
// whole, under the name the client asked for, and Handler.Manifest, OpenBlob
// and Referrers read the same content in process, without a request: a
// recording (package recording) is built from both.
package registry
