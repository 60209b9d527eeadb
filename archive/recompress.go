package archive

import (
	"archive/tar"
	"fmt"
	"io"

	"github.com/ocitar/ocitar/internal/compression"
)

// Recompress copies the tar read from in, compressed or not, to out
// compressed as c, so that the tar out holds is byte for byte the tar in
// holds, and every entry starts a frame that ocitar can enter. It turns a
// bundle that must be read whole (zstd in one frame, as k3s ships) into one
// read in place. Close of out is left to the caller.
func Recompress(in io.Reader, out io.Writer, c Compression, opts Options) error {
	stream, _, err := compression.OpenDecompressed(in, 1<<20, opts.maxSpoolRatio())
	if err != nil {
		return err
	}
	defer stream.Close()
	z, err := NewCompressor(out, c)
	if err != nil {
		return err
	}
	if err := copyFramed(stream, z, opts); err != nil {
		return err
	}
	return z.Close()
}

// copyFramed copies the tar read from in to out as it is, ending a frame of
// out, when it is a FramedOutput, where each header starts.
func copyFramed(in io.Reader, out io.Writer, opts Options) error {
	cut := &frameCutter{out: out}
	sr := &streamReader{r: in}
	tr := tar.NewReader(io.TeeReader(sr, cut))
	err := eachHeader(tr, opts, func(hdr *tar.Header) error {
		cut.at(sr.position() + blocks(physicalSize(hdr)))
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := io.Copy(cut, sr); err != nil { // what follows the end-of-archive blocks
		return fmt.Errorf("reading after the end of the tar: %w", err)
	}
	return nil
}

// frameCutter writes through to out, ending a frame at each offset it is
// told, when out is a FramedOutput.
type frameCutter struct {
	out  io.Writer
	pos  int64
	cuts []int64 // ascending
}

// at asks for a frame to end where offset off of the stream starts.
func (c *frameCutter) at(off int64) {
	if _, framed := c.out.(FramedOutput); framed {
		c.cuts = append(c.cuts, off)
	}
}

func (c *frameCutter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if len(c.cuts) > 0 && c.cuts[0] <= c.pos {
			c.cuts = c.cuts[1:]
			if err := c.out.(FramedOutput).EndFrame(); err != nil {
				return written, err
			}
			continue
		}
		n := len(p)
		if len(c.cuts) > 0 {
			n = int(min(int64(n), c.cuts[0]-c.pos))
		}
		m, err := c.out.Write(p[:n])
		written += m
		c.pos += int64(m)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
