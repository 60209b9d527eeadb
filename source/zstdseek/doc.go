// Package zstdseek finds the frames of a zstd stream, the points at which a
// decoder can enter it, and presents its content as a source.Source that
// decodes only the frames a read touches.
//
// The frames come from one of three places:
//
//   - ReadSeekTable reads the seek table of the zstd seekable format
//     (facebook/zstd contrib/seekable_format): a skippable frame at the end
//     of the file listing the compressed and uncompressed size of each
//     frame. Two reads at the tail of the file. Writer writes this format,
//     which zstd -d, tar --zstd and any zstd decoder read as plain zstd.
//   - WalkFrames follows frame and block headers through the file, reading
//     it in windows of 1 MiB but decoding nothing. It needs each frame to
//     give its Frame_Content_Size, as zstd does for a file it compresses,
//     so that outputs of zstd put end to end can be entered at each one.
//     It stops at the header of the first frame larger than the span the
//     caller enters a stream by (ErrLargeFrame), reading none of its blocks.
//   - MeasureFrames is WalkFrames that decodes, once, the frames that do not
//     give their size.
//
// What the zstd command line (Debian's zstd 1.5.4) writes:
//
//   - zstd -T0, at any level and with --long, writes one frame, with its
//     Frame_Content_Size when it reads a file and without when it reads a
//     pipe. One frame cannot be entered but at its start: WalkFrames says
//     so (ErrLargeFrame or ErrNoContentSize) from its header, and the
//     caller decompresses such a stream once.
//   - pzstd writes a frame for every 4 windows of content (2 MiB at -1,
//     8 MiB at the default -3; an empty one last when the content is a
//     multiple of that), each after a skippable frame of pzstd's own, and
//     none gives its Frame_Content_Size: WalkFrames returns
//     ErrNoContentSize, MeasureFrames decodes them once.
//
// The files are data, not trust. A seek table must describe the file
// exactly (its frames and itself make up the whole file); frames must not
// overlap; content claiming more than Options.MaxRatio times the file is
// refused as a decompression bomb (errkind.ErrTooLarge). Open decodes each
// frame from exactly its bytes and checks the content size and checksum
// listed for it, so that a frame that does not decode, or holds other than
// the table says, fails the reads that touch it and only those. A table
// whose sizes add up but lie about one frame places the content of the
// frames after it wrongly, as a lying index would: reads of them give what
// they hold where the table puts it, and the lie is found when the lying
// frame is read.
//
// A decoder keeps a window of history: 4.5 MiB for a frame of Writer's,
// 2.5 MiB for one of pzstd at its default level, so the 8 idle decoders
// source.Spans keeps hold 36 MiB or 20 MiB (BenchmarkIdleDecoders). A
// frame may ask for at most 128 MiB, the window of zstd --long=27.
package zstdseek
