package store

import "errors"

// ErrBusy is what Prune returns, removing nothing, while a load or a cache
// fetch holds the store (LayoutStore.Hold).
var ErrBusy = errors.New("store busy: a load holds it")
