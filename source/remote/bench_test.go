package remote

import (
	"archive/tar"
	"context"
	"io"
	"testing"
)

// BenchmarkOpenRange streams a blob over loopback, against which the
// cost of serving from a file compares.
func BenchmarkOpenRange(b *testing.B) {
	const size = 16 << 20
	srv := newObjectServer(b, pattern(size, 40), false)
	src, err := Open(context.Background(), srv.URL+"/a.tar", Options{Client: srv.Client()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size - DefaultWindow)
	for b.Loop() {
		r, err := src.OpenRange(context.Background(), DefaultWindow, size-DefaultWindow)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkIndexTar reads the headers of a tar of 2000 small entries and
// 10 large ones, and reports the requests it takes.
func BenchmarkIndexTar(b *testing.B) {
	archive, _ := tarOf(b, 2000, 10)
	srv := newObjectServer(b, archive, false)
	var requests int64
	for b.Loop() {
		src, err := Open(context.Background(), srv.URL+"/a.tar", Options{Client: srv.Client()})
		if err != nil {
			b.Fatal(err)
		}
		tr := tar.NewReader(io.NewSectionReader(src, 0, src.Size()))
		for {
			if _, err := tr.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		requests += src.Stats().Requests
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
}
