// Package inventory is the inventory of a site: the blobs it holds and
// what it holds them in (archives, OCI layout directories, registry
// repositories), so that a delta can be written against the site without
// its files.
//
// An inventory is a JSON object, version 1:
//
//	{"version": 1,
//	 "sources": [
//	   {"kind": "archive", "name": "bundle-2026-01.tar", "identity": "sha256:...",
//	    "blobs": [{"digest": "sha256:...", "size": 1234}, ...]},
//	   {"kind": "registry", "name": "docker://registry.site/app", "blobs": [...]}]}
//
// A source is an archive.Base with the blobs it holds; a delta written
// against an inventory records its sources as its bases. Read refuses
// anything else: an unknown version, field or kind, a digest that is not
// one, a negative size, trailing data. The package reads and writes
// inventories, and makes sources of opened archives; listing a registry
// is its caller's (cmd/ocitar), as is anything of containers/image.
package inventory
