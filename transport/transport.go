package transport

import (
	"fmt"
	"path/filepath"
	"strings"

	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

func init() {
	transports.Register(Transport)
}

// Transport is the oci-tar transport.
var Transport = ociTarTransport{}

type ociTarTransport struct{}

func (ociTarTransport) Name() string { return "oci-tar" }

// ParseReference parses PATH[:SELECTOR] as written after "oci-tar:".
func (ociTarTransport) ParseReference(reference string) (types.ImageReference, error) {
	return ParseReference(reference)
}

// ValidatePolicyConfigurationScope accepts an absolute, clean path of a file or of a
// directory above it, as oci-archive: does.
func (ociTarTransport) ValidatePolicyConfigurationScope(scope string) error {
	if !strings.HasPrefix(scope, "/") {
		return fmt.Errorf("invalid scope %q: must be an absolute path", scope)
	}
	if scope == "/" {
		return fmt.Errorf(`invalid scope %q: use an empty string for the transport's default policy`, scope)
	}
	if cleaned := filepath.Clean(scope); cleaned != scope {
		return fmt.Errorf("invalid scope %q: not in canonical form, perhaps %q", scope, cleaned)
	}
	return nil
}
