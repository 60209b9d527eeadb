package upstream

import (
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec               string
		registry, url, err string
	}{
		{spec: "http://127.0.0.1:5001", url: "http://127.0.0.1:5001"},
		{spec: "https://mirror.example.com/", url: "https://mirror.example.com"},
		{spec: "docker.io=https://mirror.example.com/hub/", registry: "docker.io", url: "https://mirror.example.com/hub"},
		{spec: "Index.Docker.IO=https://h", registry: "docker.io", url: "https://h"},
		{spec: "localhost:5000=http://127.0.0.1:5001", registry: "localhost:5000", url: "http://127.0.0.1:5001"},
		{spec: "https://user:hunter2@example.com", err: "credentials in the URL are refused"},
		{spec: "https://user@example.com", err: "credentials in the URL are refused"},
		{spec: "ftp://example.com", err: "the scheme must be http or https"},
		{spec: "example.com", err: "the scheme must be http or https"},
		{spec: "https://example.com/?token=hunter2", err: "a query string is refused"},
		{spec: "https://example.com/#x", err: "a fragment is refused"},
		{spec: "https://example.com/Up/x", err: `invalid path prefix component "Up"`},
		{spec: "https:///x", err: "no host"},
		{spec: "bad_name=https://example.com", err: "invalid registry name"},
		{spec: "=https://example.com", err: "invalid registry name"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			spec, err := ParseSpec(tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseSpec = %+v, %v; want an error with %q", spec, err, tt.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.Registry != tt.registry || spec.URL.String() != tt.url {
				t.Errorf("ParseSpec = %q %s; want %q %s", spec.Registry, spec.URL, tt.registry, tt.url)
			}
		})
	}
}
