package tarname

import (
	"fmt"
	"path"
	"strings"

	"github.com/ocitar/ocitar/internal/errkind"
)

// Clean returns raw cleaned, or an error wrapping errkind.ErrUnsafeEntry for
// an absolute name or one that climbs out with "..".
func Clean(raw string) (string, error) {
	if strings.HasPrefix(raw, "/") {
		return "", fmt.Errorf("%w: entry %q has an absolute name", errkind.ErrUnsafeEntry, raw)
	}
	name := path.Clean(raw)
	if name == ".." || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("%w: entry %q points outside the archive", errkind.ErrUnsafeEntry, raw)
	}
	return name, nil
}
