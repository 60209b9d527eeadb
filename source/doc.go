// Package source gives random access to the bytes of an archive, wherever
// they are kept: a Source is an io.ReaderAt with a size and an identity,
// so that what is built from it once (an index, a cache entry) can be found
// again and is never used for other bytes.
//
// File is a Source over a local file. Spans presents the uncompressed
// content of a compressed stream as a Source, given the points at which a
// decoder can enter it; the packages beside this one find those points in
// each form: gzindex for gzip, zstdseek for zstd.
package source
