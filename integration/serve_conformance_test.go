package integration

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// conformanceMinPass is the fewest specs the suite must pass: the 18 pull,
// discovery and read-only data specs it runs without push, so that a change
// which turns some off cannot pass.
const conformanceMinPass = 18

// conformanceResultsCrash is in the panic the suite ends with when it writes
// results.yaml after a run without push, once it has printed its results.
const conformanceResultsCrash = "main.(*runner).ReportResultsYAML"

// conformanceCount matches one line of the suite's totals, "  Pass.....:   44".
var conformanceCount = regexp.MustCompile(`(?m)^  (\w+)\.*:\s+(\d+)$`)

// TestServeConformance runs the OCI distribution-spec conformance suite
// against ocitar serve with push and delete off, its read-only data being the
// tag, manifests, blobs and referrers of example.com/app in the served archive.
// Every spec it runs must pass. The suite's totals are read from its standard
// output: without push it cannot write results.yaml (see README).
func TestServeConformance(t *testing.T) {
	dir := t.TempDir()
	a := serveArchiveMake(t, dir)
	host := serveStart(t, dir, a.path).host
	env := []string{
		"OCI_REGISTRY=" + host, "OCI_TLS=disabled", "OCI_VERSION=1.1",
		"OCI_REPO1=example.com/app", "OCI_REPO2=library/sample",
		"OCI_API_PUSH=false", "OCI_API_BLOBS_DELETE=false", "OCI_API_MANIFESTS_DELETE=false", "OCI_API_TAGS_DELETE=false",
		"OCI_RO_DATA_TAGS=1",
		"OCI_RO_DATA_MANIFESTS=" + a.app.manifest + " " + a.referrer,
		"OCI_RO_DATA_BLOBS=" + strings.Join(a.appBlobs, " "),
		"OCI_RO_DATA_REFERRERS=" + a.app.manifest,
		"OCI_RESULTS_DIR=" + t.TempDir(), "HOME=" + t.TempDir(),
	}
	cmd := command(t, env, conformance)
	cmd.Dir = t.TempDir() // where it looks for oci-conformance.yaml
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	counts := map[string]int{}
	for _, m := range conformanceCount.FindAllStringSubmatch(stdout.String(), -1) {
		counts[m[1]], _ = strconv.Atoi(m[2])
	}
	t.Logf("conformance suite: %v (exit: %v)", counts, err)
	if err != nil && !strings.Contains(stderr.String(), conformanceResultsCrash) {
		t.Errorf("the conformance suite failed: %v\n  stderr: %s", err, stderr.String())
	}
	if counts["FAIL"]+counts["Error"]+counts["Skip"] != 0 || counts["Pass"] < conformanceMinPass ||
		!strings.Contains(stdout.String(), "OCI Conformance Result: Pass\n") {
		t.Errorf("the conformance suite against ocitar serve: %v, want no FAIL, Error nor Skip and at least %d Pass\n  command: %s %s\n%s\n  stderr: %s",
			counts, conformanceMinPass, strings.Join(env, " "), commandLine(cmd), stdout.String(), stderr.String())
	}
}
