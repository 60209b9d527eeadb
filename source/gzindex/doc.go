// Package gzindex gives random access to the uncompressed content of a
// gzip stream, kept where it is: it finds the points at which a decoder
// can enter the stream, and source.Spans reads from them.
//
// # Any gzip
//
// An Indexer decompresses the stream once (gzip, pigz, concatenated
// members, BGZF alike), as the io.Reader from which a caller parses the
// tar, and keeps checkpoints: the start of every member, which needs no
// history, the last deflate block end at or before each offset the caller
// gives Mark (the data of a tar entry), and a block end every
// Options.Spacing bytes. A block end needs the 32 KiB of output before it,
// its window. Since the caller learns of an offset only after reading past
// it, the Indexer keeps the last 4 MiB of output and the block ends in it,
// at least 1 KiB apart, and takes a window from there when it keeps one;
// a pass holds about 4.5 MiB besides the index. The windows go to
// Options.Windows as the Indexer keeps them (the caller's file, say), or
// stay in its memory; the index itself holds where each is and its CRC32.
// It checks every member's CRC32 and size, that nothing but members
// follows the last, and fails once the output exceeds Options.MaxRatio
// times the compressed bytes read. At the default spacing of 4 MiB the index of a tar of text and
// binaries (BenchmarkIndex: half of its bytes random) takes 4.8 MiB per
// GiB of content, almost all of it windows, and at most 8 MiB per GiB,
// for content that does not compress; the rest, the checkpoints, about
// 20 bytes each. The pass runs at the speed of a plain gunzip.
//
// Open presents the content through an Index. A decoder entered at a
// checkpoint inside a member reads the checkpoint's window from
// Index.Windows, and fails with errkind.ErrInvalidMetadata when it does
// not match its CRC32 or length; no other read fails with it, and nothing
// but the checkpoints is read before. The decoder goes on across members,
// checking each trailer it reaches (the CRC32 only of a member it entered
// at its start), and checks that every later checkpoint of the index is
// where the stream has a block end or member: an index that is stale or
// forged fails with ErrIndexMismatch.
//
// # The index format
//
// MarshalBinary writes the checkpoints, not the windows: "ocitargzindex",
// a version byte (2), the uncompressed size, the compressed size, the
// bytes of windows and the number of checkpoints as uvarints; for each
// checkpoint the uvarint differences of its uncompressed and compressed
// offsets from those of the one before, a flags byte (bit 0: member start,
// bit 1: window deflated, bits 2-4: the bit offset, the bits of the byte
// at the compressed offset that the previous block used) and, unless it
// starts a member, where its window is among the windows, offset and
// length as uvarints, and the window's little-endian CRC32 (IEEE); a
// window is raw deflate when that is smaller, the min(32 KiB, offset in
// the member) bytes before the checkpoint otherwise. Last comes a
// little-endian CRC32 of all before it. UnmarshalBinary checks all of it
// (offsets strictly increasing, inside the sizes, windows of their exact
// length inside the windows' bytes) and refuses version 1, whose windows
// were inline, so that an index read from a cache is data, not trust;
// Validate checks that an index was made for a stream of a given size.
//
// # ocitar's gzip
//
// A Writer writes gzip that ReadTable enters without an index pass: a
// member per frame (EndFrame ends one, and so does every FrameSize bytes
// of input), then a table of the members inside valid, empty members, so
// that every gzip reader gives the content and nothing else. Each member
// header is 1f 8b 08, no flags, no mtime, XFL 0, OS 255, so that the same
// input gives the same bytes. The table is a run of empty members, each
// with the FEXTRA flag and one extra subfield "ot" holding up to 8191
// entries of 8 bytes, a member's compressed and uncompressed sizes as
// little-endian uint32s, in order from the first member; every table
// member is full but the last. The file ends with the footer, a 50-byte
// empty member whose extra field holds the subfield "of" of 24 bytes:
// "ocitargz", the version (uint32, 1), the number of entries (uint32) and
// the bytes of the table members before the footer (uint64). Each empty
// member ends with 03 00, an empty final block, and a trailer of zeros.
// ReadTable reads the footer from the file's last 50 bytes, then the table
// in one read, and checks that it is laid out exactly so, that it holds at
// most 2^20 entries, and that the members, none empty, add up to the file.
package gzindex
