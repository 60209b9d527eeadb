package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ocitar/ocitar/cache"
	"github.com/ocitar/ocitar/recording"
	"github.com/ocitar/ocitar/registry"
	"github.com/spf13/pflag"
)

// recordOptions are the flags of --record.
type recordOptions struct {
	path      string
	referrers bool
}

func (r *recordOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&r.path, "record", "", "write every image served, under the name it was asked by, to the archive `OUT` (.tar, .tar.gz or .tar.zst; an existing OUT is added to), and the lock list OUT.lock.json beside it (bundle.tar.lock.json for bundle.tar): on SIGHUP as a snapshot, and on SIGINT or SIGTERM")
	f.BoolVar(&r.referrers, "record-referrers", true, "record the referrers and the cosign tags (sha256-HEX.sig, .att, .sbom) of each manifest pulled too")
}

// spoolDir is where the blobs pulled through for a recording wait for its
// last snapshot.
func spoolDir(path string) string {
	return path + ".blobs"
}

// serveRecording is the recording of a serve with --record.
type serveRecording struct {
	rec  *recording.Recording
	path string
	log  *log.Logger
}

// openSpool opens the cache directory that keeps what a recording pulls
// through, unbounded: nothing may leave it before the last snapshot.
func (r *recordOptions) openSpool() (*cache.Cache, error) {
	c, err := cache.Open(spoolDir(r.path), -1)
	if err != nil {
		return nil, fmt.Errorf("serve: --record %s: %w", r.path, err)
	}
	return c, nil
}

// openRecorder starts the recording of --record, reading through content.
func (r *recordOptions) openRecorder(ctx context.Context, content recording.Content, logger *log.Logger) (*serveRecording, error) {
	rec, err := recording.New(ctx, r.path, content, recording.Options{
		Referrers: r.referrers,
		Log:       func(line string) { logger.Print(line) },
	})
	if err != nil {
		return nil, fmt.Errorf("serve: --record: %w", err)
	}
	return &serveRecording{rec: rec, path: r.path, log: logger}, nil
}

// pulled records p.
func (r *serveRecording) pulled(p registry.Pull) {
	if p.Manifest != nil {
		r.rec.Manifest(p.Name, p.Reference, p.Descriptor, p.Manifest)
		return
	}
	r.rec.Blob(p.Name, p.Descriptor)
}

// snapshot writes the recording, and reports whether it did.
func (r *serveRecording) snapshot(ctx context.Context) bool {
	r.log.Printf("writing the recording to %s", r.path)
	sum, err := r.rec.Snapshot(ctx)
	if err != nil {
		r.log.Printf("--record: %v; %s is as it was", err, r.path)
		return false
	}
	leftOut := ""
	if sum.LeftOut > 0 {
		leftOut = fmt.Sprintf("; %s left out, as logged", count(sum.LeftOut, "image"))
	}
	r.log.Printf("recorded %s (%s, %s) to %s%s", count(sum.Images, "image"), count(sum.Blobs, "blob"), humanSize(sum.Bytes), r.path, leftOut)
	return true
}

// finish writes the last snapshot and, once it is written, removes the
// blobs kept for it.
func (r *serveRecording) finish(ctx context.Context) {
	written := r.snapshot(ctx)
	if err := r.rec.Close(); err != nil {
		r.log.Printf("--record: %v", err)
	}
	if !written {
		r.log.Printf("--record: the blobs pulled through are kept in %s", spoolDir(r.path))
		return
	}
	if err := os.RemoveAll(spoolDir(r.path)); err != nil {
		r.log.Printf("--record: %v", err)
	}
}
