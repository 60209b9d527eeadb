package zstdseek

import (
	"bytes"
	"io"
	"math"
	"runtime"
	"testing"
)

const benchSize = 64 << 20

// benchStreams are 64 MiB of content as Writer and as pzstd write them.
func benchStreams(b *testing.B) (content []byte, streams map[string][]byte) {
	content = testContent(benchSize, 10)
	return content, map[string][]byte{
		"seekable": seekable(b, content),
		"pzstd-3":  compressFile(b, content, "pzstd", "-3"),
	}
}

func benchFrames(b *testing.B, src memSource) []Frame {
	frames, err := MeasureFrames(src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return frames
}

// BenchmarkSpansRead reads the content from start to end in reads of 1 MiB
// through Open, beside one decoder reading the whole stream.
func BenchmarkSpansRead(b *testing.B) {
	_, streams := benchStreams(b)
	for name, stream := range streams {
		src := newMem(name, stream)
		frames := benchFrames(b, src)
		b.Run(name+"/spans", func(b *testing.B) {
			b.SetBytes(benchSize)
			p := make([]byte, 1<<20)
			for b.Loop() {
				spans, err := Open(src, frames, Options{})
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < spans.Size(); off += int64(len(p)) {
					if _, err := spans.ReadAt(p, off); err != nil && err != io.EOF {
						b.Fatal(err)
					}
				}
				spans.Close()
			}
		})
		b.Run(name+"/stream", func(b *testing.B) {
			b.SetBytes(benchSize)
			dec, err := newDecoder()
			if err != nil {
				b.Fatal(err)
			}
			defer dec.Close()
			for b.Loop() {
				if err := dec.Reset(bytes.NewReader(stream)); err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, dec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleDecoders reads 8 frames whole, last first so that no read
// goes on with the decoder of another, and reports the heap each of the 8
// decoders source.Spans then keeps idle holds.
func BenchmarkIdleDecoders(b *testing.B) {
	_, streams := benchStreams(b)
	for name, stream := range streams {
		src := newMem(name, stream)
		frames := benchFrames(b, src)
		b.Run(name, func(b *testing.B) {
			var held uint64
			for b.Loop() {
				before := heapInUse()
				spans, err := Open(src, frames, Options{})
				if err != nil {
					b.Fatal(err)
				}
				for i := 7; i >= 0; i-- {
					if _, err := spans.ReadAt(make([]byte, frames[i].Size), frames[i].Offset); err != nil {
						b.Fatal(err)
					}
				}
				held = heapInUse() - before
				spans.Close()
			}
			b.ReportMetric(float64(held)/8/(1<<20), "MiB/decoder")
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkWalkFrames walks the headers of a stream of frames of 4 MiB,
// reporting the speed in compressed bytes.
func BenchmarkWalkFrames(b *testing.B) {
	_, streams := benchStreams(b)
	src := newMem("seekable", streams["seekable"])
	b.SetBytes(src.Size())
	for b.Loop() {
		if _, err := WalkFrames(src, math.MaxInt64); err != nil {
			b.Fatal(err)
		}
	}
}
