package gzindex

// ring keeps the last size bytes written to it, growing to that size as
// they come.
type ring struct {
	buf  []byte
	size int
	end  int64 // how many bytes were written, the offset after the last
}

func (r *ring) write(p []byte) {
	if fill := min(len(p), r.size-len(r.buf)); fill > 0 {
		r.buf = append(r.buf, p[:fill]...)
		r.end += int64(fill)
		p = p[fill:]
	}
	for len(p) > 0 {
		n := copy(r.buf[r.end%int64(r.size):], p)
		p = p[n:]
		r.end += int64(n)
	}
}

// holds tells whether the ring still has the byte at offset off.
func (r *ring) holds(off int64) bool { return off >= r.end-int64(len(r.buf)) }

// slice returns the n bytes from offset off, which the ring holds up to off+n.
func (r *ring) slice(off int64, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		i := (off + int64(len(out))) % int64(r.size)
		out = append(out, r.buf[i:min(int64(len(r.buf)), i+int64(n-len(out)))]...)
	}
	return out
}
