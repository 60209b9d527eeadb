package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the soft limit of the Go runtime's memory unless
// GOMEMLIMIT sets one. Reading a compressed archive holds a decoder's
// window (32 MiB for zstd --long=25) while it streams gigabytes of garbage
// through buffers, and the default GOGC lets the heap reach twice what is
// live: the limit makes the collector run before the heap passes it, so a
// k3s bundle is read in under 100 MiB. A heap that must be larger still
// grows past it.
const defaultMemoryLimit = 64 << 20

// limitMemory sets defaultMemoryLimit, unless the environment sets a limit.
func limitMemory() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
