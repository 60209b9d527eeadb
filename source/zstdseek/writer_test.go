package zstdseek

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestWriter(t *testing.T) {
	tests := []struct {
		name       string
		size       int
		cuts       []int
		wantFrames int
	}{
		{"one small frame", 100, nil, 1},
		{"frames of FrameSize", 2*FrameSize + 10, nil, 3},
		{"cut by EndFrame", 1 << 20, []int{10, 10, 300, 700_000}, 4},
		{"cut and split", FrameSize + 100, []int{50}, 3},
		{"empty", 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := testContent(tt.size, 1)
			out := seekable(t, content, tt.cuts...)
			src := newMem("out.tar.zst", out)
			frames, err := ReadSeekTable(src)
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != tt.wantFrames {
				t.Fatalf("%d frames, want %d", len(frames), tt.wantFrames)
			}
			walked, err := WalkFrames(src, maxSpan)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(stripChecksums(frames)) != fmt.Sprint(walked) {
				t.Errorf("seek table %v, frame headers %v", frames, walked)
			}
			if got := tool(t, out, "zstd", "-dc"); !bytes.Equal(got, content) {
				t.Errorf("zstd -dc gives %d bytes, not the %d written", len(got), len(content))
			}
			if got := klauspostDecode(t, out); !bytes.Equal(got, content) {
				t.Errorf("klauspost's decoder gives %d bytes, not the %d written", len(got), len(content))
			}
			if len(content) > 0 {
				spans, err := Open(src, frames, Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer spans.Close()
				if spans.Identity() != src.Identity()+"-zst" {
					t.Errorf("identity %q", spans.Identity())
				}
				checkReads(t, spans, content)
			}
		})
	}
}

// stripChecksums returns frames as WalkFrames finds them.
func stripChecksums(frames []Frame) []Frame {
	out := make([]Frame, len(frames))
	for i, f := range frames {
		f.Checksum, f.HasChecksum = 0, false
		out[i] = f
	}
	return out
}

func klauspostDecode(t *testing.T, b []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriterReproducible(t *testing.T) {
	content := testContent(FrameSize+5000, 2)
	a, b := seekable(t, content, 1000, 3000), seekable(t, content, 1000, 3000)
	if !bytes.Equal(a, b) {
		t.Fatal("two writes of the same content differ")
	}
}

// TestWriterTar writes a tar as the archive Writer will, a frame per
// entry, and lists it with GNU tar.
func TestWriterTar(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, 3)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(w)
	names := []string{"index.json", "blobs/sha256/aa", "blobs/sha256/bb"}
	for i, name := range names {
		body := testContent(i*FrameSize/2+10, uint64(i))
		if err := w.EndFrame(); err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "out.tar.zst")
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(tool(t, nil, "tar", "--zstd", "-tf", file))); fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("tar --zstd -tf lists %v, want %v", got, names)
	}
	frames, err := ReadSeekTable(newMem(file, out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 4 { // one per entry, the last, of more than FrameSize, in two
		t.Errorf("%d frames, want 4: %v", len(frames), frames)
	}
}

func TestWriterAfterClose(t *testing.T) {
	w, err := NewWriter(io.Discard, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
}
