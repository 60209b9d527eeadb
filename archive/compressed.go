package archive

import (
	"fmt"
	"os"
)

// Compressed reports whether the regular file f is a compressed archive, which
// Open would decompress into a spool file rather than read in place. It lets a
// tool open such a file with OpenStream and show the progress of that pass.
func Compressed(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("%s: %w", f.Name(), err)
	}
	c, err := detectCompressionAt(f, 0, st.Size())
	if err != nil {
		return false, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return c != uncompressed, nil
}
