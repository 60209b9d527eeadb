package gzindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
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
	deflated := 0
	for i, cp := range idx.Checkpoints {
		if cp.window.deflated {
			deflated = i
		}
	}
	tests := []struct {
		name  string
		input []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"another magic", append([]byte("x"), good[1:]...)},
		{"another version", resum(append(append([]byte(indexMagic), 2), good[header:]...))},
		{"a wrong checksum", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1)},
		{"bytes after the checkpoints", resum(append(bytes.Clone(good[:len(good)-4]), 0, 0, 0, 0, 0))},
		{"more checkpoints than bytes", resum(append(append(append([]byte(indexMagic), indexVersion), 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f), 0, 0, 0, 0))},
		{"an overlong number", resum(append(append([]byte(indexMagic), indexVersion), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0))},
		{"a size past 2^62", forged(func(x *Index) { x.Size = 1<<62 + 1 })},
		{"a checkpoint outside the file", forged(func(x *Index) { x.Checkpoints[2].Compressed = x.Compressed })},
		{"offsets going back", forged(func(x *Index) { x.Checkpoints[2].Uncompressed = x.Checkpoints[1].Uncompressed })},
		{"unknown flags", forged(func(x *Index) { x.Checkpoints[1].Bit = 8 })},
		{"a window of the wrong size", forged(func(x *Index) { x.Checkpoints[1].window = window{data: make([]byte, windowSize-1)} })},
		{"a deflated window that inflates short", forged(func(x *Index) {
			x.Checkpoints[deflated].window = new(packer).pack(make([]byte, windowSize-1))
		})},
		{"a deflated window of garbage", forged(func(x *Index) { x.Checkpoints[deflated].window.data = []byte{0xff, 0xff} })},
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
