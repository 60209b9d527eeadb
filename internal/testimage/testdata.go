package testimage

import (
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestdataFile is a file that gentestdata writes under the module's testdata/.
type TestdataFile struct {
	Name  string // file name inside testdata/
	Write func(io.Writer) error
}

// Testdata lists the generated files checked in under testdata/; `make testdata`
// regenerates them, and this package's tests check they are up to date.
var Testdata = []TestdataFile{
	{"sample.docker.tar", func(w io.Writer) error {
		return WriteDockerSave(w, Sample("example.com/ocitar/sample:1", ocispec.Platform{OS: "linux", Architecture: "amd64"}))
	}},
	{"sample-multi.oci.tar", func(w io.Writer) error {
		return WriteOCILayout(w, OCIOptions{Index: true, Gzip: true},
			Sample("example.com/ocitar/multi:1", ocispec.Platform{OS: "linux", Architecture: "amd64"}),
			Sample("example.com/ocitar/multi:1", ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}))
	}},
}
