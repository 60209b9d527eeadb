package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"

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
func OpenArchive(ctx context.Context, location string, opts Options, sys *types.SystemContext) (*archive.Reader, error) {
	if members := archive.StackMembers(location); len(members) > 1 && !remote.IsRemote(location) {
		return archive.OpenStackFiles(members, readerOptions(opts.Reader, sys))
	}
	if !remote.IsRemote(location) {
		return archive.Open(location, readerOptions(opts.Reader, sys))
	}
	r, _, err := OpenRemoteArchive(ctx, location, opts, sys)
	return r, err
}

// OpenRemoteArchive opens the archive at an https://, http:// or s3://
// location as OpenArchive does, and returns the Source it reads too: nil
// for a copy downloaded whole (Options.DownloadWithoutRange).
func OpenRemoteArchive(ctx context.Context, location string, opts Options, sys *types.SystemContext) (*archive.Reader, *remote.Source, error) {
	ropts := readerOptions(opts.Reader, sys)
	src, err := OpenRemote(ctx, location, sys)
	if errors.Is(err, remote.ErrNoRange) && opts.DownloadWithoutRange {
		r, err := openDownloaded(ctx, location, ropts, sys)
		return r, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	r, err := archive.OpenSource(src, ropts)
	if err != nil {
		return nil, nil, err
	}
	return r, src, nil
}

// openDownloaded reads the archive at location from the copy
// DownloadRemote keeps in the cache.
func openDownloaded(ctx context.Context, location string, opts archive.Options, sys *types.SystemContext) (*archive.Reader, error) {
	f, err := DownloadRemote(ctx, location, opts.Cache, sys)
	if err != nil {
		return nil, err
	}
	return archive.OpenFile(f, remote.Redact(location), opts)
}

// DownloadRemote downloads the object at location, as OpenRemote reaches
// it, into c, whole, and opens the copy: for a server that ignores Range.
// The copy is a blob of c like any other: the next download of the same
// content finds it there, and eviction may remove it once it is closed.
func DownloadRemote(ctx context.Context, location string, c archive.Cache, sys *types.SystemContext) (*os.File, error) {
	name := remote.Redact(location)
	if c == nil {
		return nil, fmt.Errorf("%s: %w, and there is no cache directory to download it into", name, remote.ErrNoRange)
	}
	client, err := httpClient(sys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	body, err := remote.Download(ctx, location, remote.Options{Client: client})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	d, _, _, err := c.Put(body, "")
	if err != nil {
		return nil, fmt.Errorf("%s: downloading it into the cache: %w", name, err)
	}
	f, _, err := c.Open(d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
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
