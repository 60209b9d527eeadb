package remote

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the package reaches neither containers/image nor
// archive, and outside the standard library only the module's source
// package and the SigV4 signer with what it needs.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/aws/aws-sdk-go-v2/aws/signer/v4\n") {
		t.Fatalf("go list -deps does not list the signer:\n%s", out)
	}
	allowed := []string{"github.com/ocitar/ocitar/source", "github.com/aws/aws-sdk-go-v2/", "github.com/aws/smithy-go"}
	for _, pkg := range strings.Fields(string(out)) {
		ok := false
		for _, prefix := range allowed {
			ok = ok || strings.HasPrefix(pkg, prefix)
		}
		if !ok {
			t.Errorf("source/remote depends on %s", pkg)
		}
	}
}
