package registry

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// byteRange is the part of a blob a response carries.
type byteRange struct {
	start, length int64
	partial       bool // a Range request answered 206
}

// requestedRange is the range of a blob of size bytes that r asks for. Only
// one range is served: a request for several gets the whole blob, as RFC 9110
// allows, so no request makes the handler seek and frame many parts. A
// Range whose If-Range names other content is ignored likewise.
func requestedRange(r *http.Request, d digest.Digest, size int64) (byteRange, error) {
	whole := byteRange{0, size, false}
	header := r.Header.Get("Range")
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return whole, nil
	}
	if ifRange := r.Header.Get("If-Range"); ifRange != "" && ifRange != etag(d) {
		return whole, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return byteRange{}, errors.New("malformed range")
	}
	if first == "" {
		n, ok := parseOffset(last)
		if !ok || n == 0 || size == 0 {
			return byteRange{}, errors.New("unsatisfiable suffix range")
		}
		n = min(n, size)
		return byteRange{size - n, n, true}, nil
	}
	start, ok := parseOffset(first)
	if !ok {
		return byteRange{}, errors.New("malformed range start")
	}
	if start >= size {
		return byteRange{}, errors.New("range starts beyond the blob")
	}
	end := size - 1
	if last != "" {
		if end, ok = parseOffset(last); !ok || end < start {
			return byteRange{}, errors.New("malformed range end")
		}
		end = min(end, size-1)
	}
	return byteRange{start, end - start + 1, true}, nil
}

// parseOffset parses a byte offset: decimal digits only, no sign.
func parseOffset(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
