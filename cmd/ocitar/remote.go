package main

import (
	"context"
	"errors"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/source"
	"github.com/ocitar/ocitar/source/remote"
	"github.com/ocitar/ocitar/transport"
	"go.podman.io/image/v5/types"
)

// openArchive opens the archive at location, a file or a remote location
// reached with e's TLS settings. Its requests run as long as the command.
func (e *endpointOptions) openArchive(g *globalOptions, location string) (*archive.Reader, error) {
	sys, err := e.systemContext(g, true)
	if err != nil {
		return nil, err
	}
	return transport.OpenArchive(context.Background(), location, g.transportOptions(), sys)
}

// verify verifies the archive at location and returns its report and the
// name to print it by: a remote location without its secrets.
func (e *endpointOptions) verify(g *globalOptions, location string) (archive.Report, string, error) {
	if members := archive.StackMembers(location); len(members) > 1 {
		return archive.VerifyStack(members, g.archiveOptions()), location, nil
	}
	if !remote.IsRemote(location) {
		return archive.Verify(location, g.archiveOptions()), location, nil
	}
	sys, err := e.systemContext(g, true)
	if err != nil {
		return archive.Report{}, "", err
	}
	src, err := transport.OpenRemote(context.Background(), location, sys)
	if errors.Is(err, remote.ErrNoRange) && g.download {
		return verifyDownloaded(g, location, sys)
	}
	if err != nil {
		return archive.Report{}, "", err
	}
	return archive.VerifySource(src, g.archiveOptions()), src.Name(), nil
}

// verifyDownloaded verifies the copy of the archive at location that
// --download-if-no-range keeps in the cache.
func verifyDownloaded(g *globalOptions, location string, sys *types.SystemContext) (archive.Report, string, error) {
	opts := g.archiveOptions()
	f, err := transport.DownloadRemote(context.Background(), location, opts.Cache, sys)
	if err != nil {
		return archive.Report{}, "", err
	}
	defer f.Close()
	name := remote.Redact(location)
	src, err := source.NewFile(f, name)
	if err != nil {
		return archive.Report{}, "", err
	}
	return archive.VerifySource(src, opts), name, nil
}
