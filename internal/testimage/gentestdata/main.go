// Command gentestdata writes the generated image tars under testdata/:
//
//	go run ./internal/testimage/gentestdata DIR
//
// writes DIR/sample.docker.tar and DIR/sample-multi.oci.tar (see testimage.Testdata).
// Each file is written to a temporary file in DIR and renamed into place.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ocitar/ocitar/internal/testimage"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gentestdata DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gentestdata:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	for _, f := range testimage.Testdata {
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
