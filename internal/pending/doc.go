// Package pending writes a file beside its final path and renames it into
// place only when complete, so readers see the old file or the whole new one.
package pending
