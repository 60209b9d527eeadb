package archive

import (
	"errors"

	"github.com/ocitar/ocitar/internal/compression"
	"github.com/ocitar/ocitar/source"
	"github.com/ocitar/ocitar/source/zstdseek"
)

// maxZstdSpan is the largest frame a zstd archive is entered by: a read
// inside it decodes up to this much, and each decoder Spans keeps for the
// next read holds up to this much window. Twice the frames of ocitar's own
// .tar.zst. An archive of larger frames (one frame, as zstd -T0 writes) is
// decompressed once into the cache instead.
const maxZstdSpan = 2 * zstdseek.FrameSize

// openZstd reads a zstd in place by its seek table, or by its frame headers
// when it has several small frames; one that cannot be entered is extracted,
// and so is one whose frames do not record their size (pzstd's), which only
// decoding them would tell.
func openZstd(src source.Source, opts Options) (*Reader, error) {
	frames, err := zstdseek.ReadSeekTable(src)
	if errors.Is(err, zstdseek.ErrNotSeekable) {
		frames, err = zstdseek.WalkFrames(src, maxZstdSpan)
	}
	if errors.Is(err, zstdseek.ErrNoContentSize) || errors.Is(err, zstdseek.ErrLargeFrame) ||
		(err == nil && !zstdseek.Enterable(frames, maxZstdSpan)) {
		return openKept(src, extractPass{}, opts)
	}
	if err != nil {
		return nil, inArchive(src.Name(), err)
	}
	spans, err := zstdseek.Open(src, frames, zstdseek.Options{MaxRatio: opts.maxSpoolRatio()})
	if err != nil {
		return nil, inArchive(src.Name(), err)
	}
	return openSpans(src, compression.Zstd, spans, nil, opts)
}
