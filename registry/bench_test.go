package registry

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/internal/testimage"
	digest "github.com/opencontainers/go-digest"
)

// BenchmarkHandlerBlob downloads a hashed 64 MiB layer over loopback, 8 at a
// time: from a tar file and from a layout directory.
func BenchmarkHandlerBlob(b *testing.B) {
	dir := b.TempDir()
	l := newLayout()
	layer := testimage.Bytes(5, 64<<20)
	l.image([]string{"example.com/bench:1"}, "bench", layer)
	tarPath := l.write(b, dir, "bench.tar")
	layoutDir := filepath.Join(dir, "layout")
	untar(b, tarPath, layoutDir)
	open := map[string]func() (*archive.Reader, error){
		"tar":    func() (*archive.Reader, error) { return archive.Open(tarPath, archive.Options{}) },
		"layout": func() (*archive.Reader, error) { return archive.OpenDir(layoutDir, archive.Options{}) },
	}
	for _, name := range []string{"tar", "layout"} {
		b.Run(name, func(b *testing.B) {
			r, err := open[name]()
			if err != nil {
				b.Fatal(err)
			}
			h, err := New([]Archive{{Reader: r}}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			h.Verify(context.Background())
			srv := httptest.NewServer(h)
			defer srv.Close()
			url := srv.URL + "/v2/example.com/bench/blobs/" + digest.FromBytes(layer).String()
			b.SetBytes(int64(len(layer)))
			b.SetParallelism(4) // 8 downloads at a time on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := srv.Client().Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					n, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || n != int64(len(layer)) {
						b.Errorf("%d bytes, %v", n, err)
						return
					}
				}
			})
		})
	}
}
