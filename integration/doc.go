// Package integration holds tests that run the real ocitar binary, built once
// by TestMain, against real peers and faults: skopeo (the Debian package,
// installed by hack/install-deps.sh) reads what ocitar's oci-tar: destination
// writes, and writes are checked for reproducibility, atomicity when killed,
// and clean failure on missing or read-only directories, a full disk, corrupt
// sources and bad names. The package has no code of its own besides tests.
package integration
