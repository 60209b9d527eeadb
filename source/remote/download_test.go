package remote

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestDownload(t *testing.T) {
	data := pattern(300<<10, 12)
	tests := []struct {
		name     string
		ignore   bool  // the server ignores Range
		statuses []int // answered before the object
		kind     error // of the error, nil for none
	}{
		{"server that ignores Range", true, nil, nil},
		{"server that honours Range", false, nil, nil},
		{"503, then the object", true, []int{503}, nil},
		{"404", true, []int{404}, ErrNotFound},
		{"403", true, []int{403}, ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newObjectServer(t, data, false)
			srv.with(func() { srv.ignore, srv.failures = tt.ignore, tt.statuses })
			body, err := Download(context.Background(), srv.URL+"/a.tar?X-Amz-Signature="+testSignature, testOptions(srv, &waits{}))
			if tt.kind != nil {
				if !errors.Is(seen(err), tt.kind) {
					t.Fatalf("Download: %v, want %v", err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(seen(err))
			}
			defer body.Close()
			if got := readAll(t, body); !bytes.Equal(got, data) {
				t.Errorf("downloaded %d bytes, not the %d of the object", len(got), len(data))
			}
			for _, r := range srv.got() {
				if r.Header.Get("Range") != "" {
					t.Errorf("a request asked for Range %q, want the whole object", r.Header.Get("Range"))
				}
			}
		})
	}
}
