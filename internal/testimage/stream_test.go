package testimage

import (
	"bytes"
	"testing"
)

func TestWriteLayer(t *testing.T) {
	for _, c := range []Content{Random, Text, Repeated} {
		spec := LayerSpec{Seed: 3, Size: 2*streamChunk + 100, Content: c}
		var a, b bytes.Buffer
		if err := WriteLayer(&a, spec); err != nil {
			t.Fatal(err)
		}
		if err := WriteLayer(&b, spec); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("content %d: two writes differ", c)
		}
		entries := readTar(t, a.Bytes())
		if len(entries) != 1 || int64(len(entries[0].body)) != spec.Size {
			t.Fatalf("content %d: %d entries, want one file of %d bytes", c, len(entries), spec.Size)
		}
		body := entries[0].body
		if bytes.Equal(body[:streamChunk], body[streamChunk:2*streamChunk]) {
			t.Errorf("content %d: two chunks are alike", c)
		}
	}
}
