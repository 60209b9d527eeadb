// Package cache is ocitar's cache directory, which several processes may
// share: per-archive index files under a key, and blobs by their sha256
// digest, the whole kept under a size bound by evicting what was used least
// recently.
//
// On disk, DIR/index/KEY holds an index file, DIR/blobs/sha256/HEX a blob,
// DIR/locks/KEY the lock of a key and DIR/tmp/ the files being written.
// Every file is written in DIR/tmp/, synced, and moved into place whole (an
// index by a rename, which replaces the old one; a blob by a hard link, which
// never replaces one), so that readers see a whole file or none, and a failed
// write leaves nothing. Open removes the temporary files a crash left.
//
// The cache stores bytes and trusts none of them. An index file holds a header
// with the SHA-256 of its content, and ReadIndex fails with an error wrapping
// ErrCorrupt when a file is truncated or damaged; what it returns is still the
// caller's to validate. Put checks a blob against its digest before storing
// it; callers check it again as they read it. Put says whether it added the
// blob, so that a pass that fails can Remove the blobs it added.
//
// A file's modification time is the time it was last used: Open, ReadIndex
// and a Put of a blob held set it when it is older than a minute. Before a
// write would take the cache above its bound, the files used least recently
// are removed, under a lock that keeps two processes from evicting at once.
// Files being written do not count, so processes writing at once may take the
// cache above its bound by what they write, until the next write evicts. A
// file removed while open stays readable through the open *os.File.
//
// Fill is Put of a blob fetched from elsewhere, such as an upstream
// registry, that readers follow as it arrives. There is one fetch of a digest
// at a time: the Fills of one process join the one under way, and those of
// another process sharing the directory wait for it under the flock of the
// key fill-HEX, then find the blob stored. The fetch writes DIR/tmp/, which
// every reader reads back with ReadAt, waking on each write; a reader gets a
// blob's last byte only once the whole blob matched its digest, so a bad blob
// is never read whole. A blob the cache held when Fill was called is read
// from its file, and checked before its last byte unless this Cache fetched
// or checked that very file (the same identity) before; one that fails is
// removed, so the next Fill fetches it again.
//
// Lock gives a key to one holder at a time, so that one index is built once
// while the others wait for it: on Unix systems an flock of DIR/locks/KEY,
// released when its holder exits, which keeps processes apart as well as
// goroutines; elsewhere a lock within the process only.
package cache
