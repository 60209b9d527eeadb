package remote

import (
	"slices"
	"sync"
)

// window is a stretch of the object read ahead, or being read: done is
// closed once data or err is set.
type window struct {
	off  int64
	data []byte
	done chan struct{}
	err  error
}

func (w *window) contains(off int64) bool {
	return off >= w.off && off < w.off+int64(len(w.data))
}

// windows keeps the last windows used, most recently used last.
type windows struct {
	mu   sync.Mutex
	list []*window
	max  int
}

// get returns the window holding off, or a new one planned at plan(off),
// which the caller must fill (fill is true) and then close.
func (c *windows) get(off int64, plan func(int64) (int64, int64)) (w *window, fill bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.list {
		if w.contains(off) {
			c.list = append(slices.Delete(c.list, i, i+1), w)
			return w, false
		}
	}
	start, n := plan(off)
	w = &window{off: start, data: make([]byte, n), done: make(chan struct{})}
	c.add(w)
	return w, true
}

// add keeps w, dropping the least recently used window beyond max.
func (c *windows) add(w *window) {
	c.list = append(c.list, w)
	if over := len(c.list) - c.max; over > 0 {
		c.list = slices.Delete(c.list, 0, over)
	}
}

// put keeps a window already filled.
func (c *windows) put(w *window) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(w)
}

// drop forgets w, a window that failed.
func (c *windows) drop(w *window) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.list, w); i >= 0 {
		c.list = slices.Delete(c.list, i, i+1)
	}
}
