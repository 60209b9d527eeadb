// Package testimage generates small but realistic container images and writes
// them as image tars, for tests of the code that reads such tars.
//
// Everything it produces is reproducible: layer content is fixed or comes from
// a seeded PRNG, every timestamp is fixed, tar entries are sorted and owned by
// root, and gzip output comes from the version of klauspost/compress pinned in
// go.mod. Writing the same images twice gives the same bytes, so generated
// files can be checked in under testdata/ and compared against a fresh
// generation.
//
// [Sample] builds a two-layer image exercising the awkward parts of layer
// tars: a symlink, a hard link, a file larger than 1 MiB, setuid and
// owner-only modes, and in the second layer a whiteout and an opaque whiteout.
// [WriteDockerSave] writes images in the legacy docker-save format (docker
// before 25), and [WriteOCILayout] writes them as an OCI image layout, with or
// without an image index.
//
// The package deliberately depends on nothing from this module's archive code
// (nor from go.podman.io), so that it cannot share a bug with what it tests.
// Regenerate the checked-in files with `make testdata`.
package testimage
