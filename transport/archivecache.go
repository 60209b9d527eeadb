package transport

import (
	"sync"

	"github.com/ocitar/ocitar/archive"
	"github.com/ocitar/ocitar/cache"
	"github.com/sirupsen/logrus"
)

// defaultCache is the cache that oci-tar: references of tools that name
// none (skopeo, podman, buildah) open compressed archives with: ocitar's
// directory in the user's cache directory, within cache.DefaultMax, shared
// with the ocitar command. Without one (no home directory), such archives
// are indexed again at every open.
var defaultCache = sync.OnceValue(func() archive.Cache {
	dir, err := cache.DefaultDir()
	if err != nil {
		logrus.Debugf("oci-tar: no cache directory: %v", err)
		return nil
	}
	c, err := cache.Open(dir, cache.DefaultMax)
	if err != nil {
		logrus.Debugf("oci-tar: cache directory %s: %v", dir, err)
		return nil
	}
	return c
})

// withDefaults gives opts the default cache, and containers/image's log
// for what a first pass over a compressed archive does, when they have none.
func withDefaults(opts archive.Options) archive.Options {
	if opts.Cache == nil {
		opts.Cache = defaultCache()
	}
	if opts.Notice == nil {
		opts.Notice = func(msg string) { logrus.Info(msg) }
	}
	return opts
}
