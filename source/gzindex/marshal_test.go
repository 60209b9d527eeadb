package gzindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/ocitar/ocitar/internal/errkind"
)

func testIndex(t *testing.T) *Index {
	plain := content(3<<20, 9)
	_, idx, err := index(multiMember(1<<20)(t, plain), Options{Spacing: 256 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// resum replaces the checksum at the end of an encoded index.
func resum(b []byte) []byte {
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.ChecksumIEEE(body))
}

func TestIndexUnmarshalBinaryBadInput(t *testing.T) {
	idx := testIndex(t)
	good, err := idx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	forged := func(f func(*Index)) []byte {
		x := *idx
		x.Checkpoints = append([]Checkpoint(nil), idx.Checkpoints...)
		f(&x)
		b, err := x.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	header := len(indexMagic) + 1
	tests := []struct {
		name  string
		input []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"another magic", append([]byte("x"), good[1:]...)},
		{"the version before, whose windows are inline", resum(append(append([]byte(indexMagic), 1), good[header:]...))},
		{"a wrong checksum", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1)},
		{"bytes after the checkpoints", resum(append(bytes.Clone(good[:len(good)-4]), 0, 0, 0, 0, 0))},
		{"more checkpoints than bytes", resum(append(append(append([]byte(indexMagic), indexVersion), 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f), 0, 0, 0, 0))},
		{"an overlong number", resum(append(append([]byte(indexMagic), indexVersion), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0))},
		{"a size past 2^62", forged(func(x *Index) { x.Size = 1<<62 + 1 })},
		{"a checkpoint outside the file", forged(func(x *Index) { x.Checkpoints[2].Compressed = x.Compressed })},
		{"offsets going back", forged(func(x *Index) { x.Checkpoints[2].Uncompressed = x.Checkpoints[1].Uncompressed })},
		{"unknown flags", forged(func(x *Index) { x.Checkpoints[1].Bit = 8 })},
		{"a window of the wrong size", forged(func(x *Index) { x.Checkpoints[1].window = window{size: windowSize - 1} })},
		{"a window longer than any", forged(func(x *Index) { x.Checkpoints[1].window.size = windowSize + 1 })},
		{"a window past the windows", forged(func(x *Index) { x.Checkpoints[1].window.off = x.WindowBytes })},
		{"an empty deflated window", forged(func(x *Index) { x.Checkpoints[1].window = window{deflated: true} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Index
			err := got.UnmarshalBinary(tt.input)
			t.Log(err)
			if !errors.Is(err, errkind.ErrInvalidMetadata) {
				t.Errorf("err = %v, want ErrInvalidMetadata", err)
			}
		})
	}
}

// TestOpenDamagedWindows: the windows are read as reads enter the stream
// at their checkpoints, each checked then. A damaged one fails the reads
// that enter at its checkpoint, with ErrInvalidMetadata, and no other.
func TestOpenDamagedWindows(t *testing.T) {
	plain := content(3<<20, 9)
	compressed := multiMember(1<<20)(t, plain)
	_, idx, err := index(compressed, Options{Spacing: 256 << 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	windows := make([]byte, idx.WindowBytes)
	if _, err := idx.Windows.ReadAt(windows, 0); err != nil {
		t.Fatal(err)
	}
	damaged, deflated := -1, -1
	for i, cp := range idx.Checkpoints {
		switch {
		case cp.MemberStart:
		case cp.window.deflated && deflated < 0:
			deflated = i
		case !cp.window.deflated && damaged < 0:
			damaged = i
		}
	}
	if damaged < 0 || deflated < 0 {
		t.Fatalf("no raw and deflated windows among %d checkpoints", len(idx.Checkpoints))
	}
	flipped := func(i int) []byte {
		b := bytes.Clone(windows)
		b[idx.Checkpoints[i].window.off+1] ^= 1
		return b
	}
	tests := []struct {
		name    string
		at      int // the checkpoint whose reads fail
		windows []byte
		forge   func(x *Index)
		said    string
	}{
		{"a byte of a raw window changed", damaged, flipped(damaged), nil, "checksum"},
		{"a byte of a deflated window changed", deflated, flipped(deflated), nil, "checksum"},
		{"the windows cut short", len(idx.Checkpoints) - 1, windows[:idx.Checkpoints[len(idx.Checkpoints)-1].window.off+1], nil, "unexpected EOF"},
		{"a deflated window of garbage with its checksum", deflated, windows, func(x *Index) {
			w := &x.Checkpoints[deflated].window
			w.off = x.Checkpoints[damaged].window.off
			w.sum = crc32.ChecksumIEEE(windows[w.off:][:w.size])
		}, "does not inflate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := *idx
			x.Checkpoints = slices.Clone(idx.Checkpoints)
			x.Windows = bytes.NewReader(tt.windows)
			if tt.forge != nil {
				tt.forge(&x)
			}
			if idx.Checkpoints[tt.at].MemberStart {
				t.Fatalf("checkpoint %d starts a member", tt.at)
			}
			s, err := Open(newMemSource(compressed), &x)
			if err != nil {
				t.Fatal(err)
			}
			for i, cp := range idx.Checkpoints {
				p := make([]byte, 100)
				_, err := s.ReadAt(p, cp.Uncompressed)
				if i != tt.at {
					if err != nil || !bytes.Equal(p, plain[cp.Uncompressed:][:100]) {
						t.Errorf("read at checkpoint %d: %v", i, err)
					}
					continue
				}
				if !errors.Is(err, errkind.ErrInvalidMetadata) || !strings.Contains(err.Error(), tt.said) || !strings.HasPrefix(err.Error(), "test.tar.gz: ") {
					t.Errorf("read at checkpoint %d: err = %v, want ErrInvalidMetadata naming the file and saying %q", i, err, tt.said)
				}
			}
		})
	}
}
