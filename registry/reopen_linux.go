package registry

import (
	"os"
	"strconv"
)

// reopen opens the file f has open once more, as a new open file description
// with an offset of its own, even when its path was since replaced or removed.
func reopen(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var own *os.File
	var openErr error
	if err := sc.Control(func(fd uintptr) {
		own, openErr = os.Open("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
	}); err != nil {
		return nil, err
	}
	return own, openErr
}
