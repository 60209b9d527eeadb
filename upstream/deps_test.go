package upstream

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the package reaches neither containers/image nor the
// packages above it (registry, recording, transport, cmd).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/ocitar/ocitar/cache\n") {
		t.Fatalf("go list -deps does not list the cache:\n%s", out)
	}
	forbidden := []string{"go.podman.io/", "github.com/ocitar/ocitar/registry", "github.com/ocitar/ocitar/recording",
		"github.com/ocitar/ocitar/transport", "github.com/ocitar/ocitar/cmd"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, prefix := range forbidden {
			if strings.HasPrefix(pkg, prefix) {
				t.Errorf("upstream depends on %s", pkg)
			}
		}
	}
}
