package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocitar/ocitar/internal/testimage"
)

// BenchmarkCopyToArchive writes the same docker-save image, side by side, as an
// oci-tar: archive, as an oci-archive: and with a plain file copy (without and
// with the fsync that ocitar does before its rename), reporting
// the peak bytes each leaves under its temporary directory.
func BenchmarkCopyToArchive(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "src.tar")
	var buf bytes.Buffer
	if err := testimage.WriteDockerSave(&buf, testimage.Large("example.com/bench/large:1", 8, 32<<20)); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(src, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	tests := []struct {
		name string
		run  func(tmp, dst string) error
	}{
		{"oci-tar", func(tmp, dst string) error {
			return ocitarRun(tmp, "copy", "-q", "docker-archive:"+src, "oci-tar:"+dst)
		}},
		{"oci-archive", func(tmp, dst string) error {
			return ocitarRun(tmp, "copy", "-q", "docker-archive:"+src, "oci-archive:"+dst)
		}},
		{"cp", func(tmp, dst string) error { return copyFile(src, dst, false) }},
		{"cp-fsync", func(tmp, dst string) error { return copyFile(src, dst, true) }},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			tmp, out := b.TempDir(), filepath.Join(b.TempDir(), "out.tar")
			stop := make(chan struct{})
			peak := watchPeak(tmp, stop)
			b.SetBytes(int64(buf.Len()))
			for b.Loop() {
				os.Remove(out)
				if err := tt.run(tmp, out); err != nil {
					b.Fatal(err)
				}
			}
			close(stop)
			b.ReportMetric(float64(<-peak), "tmp-peak-bytes")
		})
	}
}

func ocitarRun(tmp string, args ...string) error {
	var stderr bytes.Buffer
	if run(append([]string{"--insecure-policy", "--tmpdir", tmp}, args...), io.Discard, &stderr) != 0 {
		return &runError{stderr.String()}
	}
	return nil
}

type runError struct{ msg string }

func (e *runError) Error() string { return e.msg }

// copyFile copies src to dst as cp does, and with durable, as cp && sync does.
func copyFile(src, dst string, durable bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if durable {
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}

// watchPeak samples the bytes under dir until stop closes, then sends the largest seen.
func watchPeak(dir string, stop <-chan struct{}) <-chan int64 {
	peak := make(chan int64, 1)
	go func() {
		var max int64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				max = maxInt64(max, dirBytes(dir))
			}
		}
	}()
	return peak
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
