package archive

import (
	"errors"
	"testing"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		in   string
		want string // String() of the result, or "" with err
		err  error
	}{
		{"", "", nil},
		{"latest", "latest", nil},
		{"example.com/a/b:1", "example.com/a/b:1", nil},
		{"@0", "@0", nil},
		{"@12", "@12", nil},
		{"@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", nil},
		{"@-1", "", ErrBadSelector},
		{"@x", "", ErrBadSelector},
		{"@sha256:short", "", ErrBadSelector},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sel, err := ParseSelector(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err == nil && sel.String() != tt.want {
				t.Errorf("String() = %q, want %q", sel.String(), tt.want)
			}
		})
	}
}

func TestNameMatches(t *testing.T) {
	tests := []struct {
		want, have string
		match      bool
	}{
		{"latest", "latest", true},
		{"alpine", "docker.io/library/alpine:latest", true},
		{"alpine:latest", "docker.io/library/alpine:latest", true},
		{"library/alpine", "alpine:latest", true},
		{"index.docker.io/library/alpine", "alpine:latest", true},
		{"alpine:3", "docker.io/library/alpine:latest", false},
		{"user/app:1", "docker.io/user/app:1", true},
		{"example.com/app:1", "example.com/app:1", true},
		{"example.com/app", "example.com/app:latest", true},
		{"localhost/app", "localhost/app:latest", true},
		{"localhost:5000/app:1", "localhost:5000/app:1", true},
		{"app", "example.com/app:latest", false},
		{"alpine", "latest", false}, // a bare tag in ref.name matches only as written
		{"latest", "docker.io/library/alpine:latest", false},
		{"alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io/library/alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
	}
	for _, tt := range tests {
		t.Run(tt.want+"~"+tt.have, func(t *testing.T) {
			if got := nameMatches(tt.want, tt.have); got != tt.match {
				t.Errorf("nameMatches(%q, %q) = %v", tt.want, tt.have, got)
			}
		})
	}
}
