package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/source/remote"
	"go.podman.io/image/v5/pkg/tlsclientconfig"
	"go.podman.io/image/v5/types"
)

// OpenArchive opens the archive at location: a file, "-" for standard
// input, or an https://, http:// or s3:// location, read in place by range
// requests with the TLS settings of sys as docker:// takes them
// (DockerCertPath, DockerInsecureSkipTLSVerify: skopeo's --src-cert-dir and
// --src-tls-verify) and S3 credentials as the AWS CLI takes them. The
// requests of a remote archive run until ctx is done.
func OpenArchive(ctx context.Context, location string, opts archive.Options, sys *types.SystemContext) (*archive.Reader, error) {
	if !remote.IsRemote(location) {
		return archive.Open(location, readerOptions(opts, sys))
	}
	r, _, err := OpenRemoteArchive(ctx, location, opts, sys)
	return r, err
}

// OpenRemoteArchive opens the archive at an https://, http:// or s3://
// location as OpenArchive does, and returns the Source it reads too.
func OpenRemoteArchive(ctx context.Context, location string, opts archive.Options, sys *types.SystemContext) (*archive.Reader, *remote.Source, error) {
	src, err := OpenRemote(ctx, location, sys)
	if err != nil {
		return nil, nil, err
	}
	r, err := archive.OpenSource(src, readerOptions(opts, sys))
	if err != nil {
		return nil, nil, err
	}
	return r, src, nil
}

// OpenRemote opens the object at an https://, http:// or s3:// location
// as OpenArchive does.
func OpenRemote(ctx context.Context, location string, sys *types.SystemContext) (*remote.Source, error) {
	client, err := httpClient(sys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", remote.Redact(location), err)
	}
	return remote.Open(ctx, location, remote.Options{Client: client})
}

// httpClient is an HTTP client with the TLS settings of sys.
func httpClient(sys *types.SystemContext) (*http.Client, error) {
	tlsc := &tls.Config{MinVersion: tls.VersionTLS12}
	if sys != nil {
		if sys.DockerCertPath != "" {
			if err := tlsclientconfig.SetupCertificates(sys.DockerCertPath, tlsc); err != nil {
				return nil, err
			}
		}
		tlsc.InsecureSkipVerify = sys.DockerInsecureSkipTLSVerify == types.OptionalBoolTrue
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsc
	return &http.Client{Transport: t}, nil
}
