// Command gentestdata writes generated image tars:
//
//	go run ./internal/testimage/gentestdata DIR
//
// writes DIR/sample.docker.tar and DIR/sample-multi.oci.tar (see testimage.Testdata);
//
//	go run ./internal/testimage/gentestdata -large MiB DIR
//
// writes DIR/large.docker.tar and DIR/large.oci.tar, one image of about MiB of
// incompressible data in 8 layers, for benchmarks.
// Each file is written to a temporary file in DIR and renamed into place.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ocitar/ocitar/internal/testimage"
)

func main() {
	large := flag.Int("large", 0, "write large.docker.tar and large.oci.tar of about `MiB` of layer data instead")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gentestdata [-large MiB] DIR")
		os.Exit(2)
	}
	files := testimage.Testdata
	if *large > 0 {
		files = largeFiles(*large)
	}
	if err := run(files, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "gentestdata:", err)
		os.Exit(1)
	}
}

// largeFiles is one image of 8 layers of mib/8 MiB each, as docker-save and as OCI layout.
func largeFiles(mib int) []testimage.TestdataFile {
	img := testimage.Large("example.com/ocitar/large:1", 8, mib<<20/8)
	return []testimage.TestdataFile{
		{Name: "large.docker.tar", Write: func(w io.Writer) error { return testimage.WriteDockerSave(w, img) }},
		{Name: "large.oci.tar", Write: func(w io.Writer) error { return testimage.WriteOCILayout(w, testimage.OCIOptions{}, img) }},
	}
}

func run(files []testimage.TestdataFile, dir string) error {
	for _, f := range files {
		var buf bytes.Buffer
		if err := f.Write(&buf); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if err := writeFile(filepath.Join(dir, f.Name), buf.Bytes()); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d bytes)\n", filepath.Join(dir, f.Name), buf.Len())
	}
	return nil
}

// writeFile writes data to a temporary file next to path and renames it to path.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
