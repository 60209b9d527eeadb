package registryname

import "testing"

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io":            "docker.io",
		"index.docker.io":      "docker.io",
		"Registry-1.Docker.IO": "docker.io",
		"Example.COM:5000":     "example.com:5000",
		"":                     "",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
