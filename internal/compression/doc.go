// Package compression detects and undoes the compression of image tars and
// layers (gzip, zstd), bounding how far a stream may expand.
package compression
