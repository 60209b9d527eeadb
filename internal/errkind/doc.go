// Package errkind declares the kinds of error that the library packages
// (archive, store, rootfs) and their internal helpers wrap. archive exports
// each under the same name, so callers test them with errors.Is against
// archive.ErrX whichever package returned the error.
package errkind
