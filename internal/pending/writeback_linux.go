package pending

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing f's dirty pages to disk and
// returns without waiting. It is a hint: an error changes nothing, as Commit's
// fsync is what makes the file durable.
func startWriteback(f *os.File) {
	const syncFileRangeWrite = 0x2 // SYNC_FILE_RANGE_WRITE
	_ = syscall.SyncFileRange(int(f.Fd()), 0, 0, syncFileRangeWrite)
}
