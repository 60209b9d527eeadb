package transport

import (
	"strings"
	"testing"
)

// FuzzParseReference: a reference that parses prints, within the transport,
// as a string that parses back to the same reference.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"a.tar", "a.tar:alpine", "-", "-:@0", "dir/x.tar:@sha256:" + strings.Repeat("ab", 32), "x.tar:example.com/a:1", ":x", "a.tar:@x", "a.tar:@007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			return
		}
		printed := ref.StringWithinTransport()
		again, err := ParseReference(printed)
		if err != nil {
			t.Fatalf("ParseReference(%q) printed %q, which does not parse: %v", s, printed, err)
		}
		if again.StringWithinTransport() != printed || again.PolicyConfigurationIdentity() != ref.PolicyConfigurationIdentity() {
			t.Fatalf("ParseReference(%q) printed %q, parsed back as %q (identity %q, was %q)", s, printed, again.StringWithinTransport(), again.PolicyConfigurationIdentity(), ref.PolicyConfigurationIdentity())
		}
	})
}
