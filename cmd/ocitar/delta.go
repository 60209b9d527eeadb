package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/inventory"
	"github.com/ocitar/ocitar/source/remote"
	"github.com/ocitar/ocitar/transport"
	digest "github.com/opencontainers/go-digest"
	"github.com/spf13/pflag"
	"go.podman.io/image/v5/types"
)

// deltaOptions are the flags that make save and copy write a delta.
type deltaOptions struct {
	bases       []string
	have        []string
	verifyBases bool
}

func (o *deltaOptions) addFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.bases, "base", nil, "write a delta: leave out the layers the archive or OCI layout directory `BASE` holds, and record BASE in index.json (repeatable; BASE may be https:// or s3://)")
	f.StringArrayVar(&o.have, "have", nil, "write a delta against what the inventory `FILE` that ocitar inventory wrote lists (repeatable)")
	f.BoolVar(&o.verifyBases, "verify-bases", false, "read each blob a --base holds whole, checking its digest, before writing")
}

// delta is the delta the flags ask for, nil for an ordinary archive. Every
// base and inventory is read before anything is written.
func (o *deltaOptions) delta(ctx context.Context, g *globalOptions, sys *types.SystemContext) (*archive.Delta, error) {
	if len(o.bases) == 0 && len(o.have) == 0 {
		return nil, nil
	}
	d := &archive.Delta{}
	for _, location := range o.bases {
		if err := o.addBase(ctx, g, sys, d, location); err != nil {
			return nil, err
		}
	}
	for _, path := range o.have {
		inv, err := inventory.Load(path)
		if err != nil {
			return nil, fmt.Errorf("--have: %w", err)
		}
		inv.AddTo(d)
	}
	return d, nil
}

// addBase adds the archives location names to d, each a base.
func (o *deltaOptions) addBase(ctx context.Context, g *globalOptions, sys *types.SystemContext, d *archive.Delta, location string) error {
	readers, err := openSources(ctx, g, sys, location)
	if err != nil {
		return fmt.Errorf("--base: %w", err)
	}
	defer closeReaders(readers)
	for _, r := range readers {
		b, held, err := r.AsBase()
		if err == nil && o.verifyBases {
			err = verifyHeld(r, held)
		}
		if err != nil {
			return fmt.Errorf("--base: %w", err)
		}
		d.Add(b, held)
	}
	return nil
}

// openSources opens what location names: an OCI layout directory, an
// archive (a file or remote), or each member of a stack.
func openSources(ctx context.Context, g *globalOptions, sys *types.SystemContext, location string) ([]*archive.Reader, error) {
	if st, err := os.Stat(location); err == nil && st.IsDir() {
		r, err := archive.OpenDir(location, g.archiveOptions())
		if err != nil {
			return nil, err
		}
		return []*archive.Reader{r}, nil
	}
	members := []string{location}
	if !remote.IsRemote(location) {
		members = archive.StackMembers(location)
	}
	var readers []*archive.Reader
	for _, m := range members {
		r, err := transport.OpenArchive(ctx, m, g.transportOptions(), sys)
		if err != nil {
			closeReaders(readers)
			return nil, err
		}
		readers = append(readers, r)
	}
	return readers, nil
}

func closeReaders(readers []*archive.Reader) {
	for _, r := range readers {
		r.Close()
	}
}

// verifyHeld reads each blob of held whole from r, which checks its digest.
func verifyHeld(r *archive.Reader, held map[digest.Digest]int64) error {
	for _, d := range slices.Sorted(maps.Keys(held)) {
		rc, _, err := r.OpenBlob(d)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
