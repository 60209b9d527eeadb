package termsafe

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"docker.io/library/alpine:3", "docker.io/library/alpine:3"},
		{"usr/share/doc/naïve 日本語 \uFFFD", "usr/share/doc/naïve 日本語 \uFFFD"},
		{`back\slash "quoted"`, `back\slash "quoted"`},
		{"", ""},
		{"x\x1b[31mRED\x1b[0m\rFORGED", `x\u001b[31mRED\u001b[0m\rFORGED`},
		{"a\nb\tc\bd\fe", `a\nb\tc\bd\fe`},
		{"nul\x00 bel\a vt\v del\x7f", `nul\u0000 bel\u0007 vt\u000b del\u007f`},
		{"c1 \u0085 csi \u009b", `c1 \u0085 csi \u009b`},
		{"bidi \u202eevil\u202c", `bidi \u202eevil\u202c`},
		{"nbsp\u00a0zwsp\u200b", `nbsp\u00a0zwsp\u200b`},
		{"tag \U000E0041", `tag \udb40\udc41`},
		{"bad \xff\xc3 utf8 \xed\xa0\x80", `bad \xff\xc3 utf8 \xed\xa0\x80`},
		{"escaped \\u001b and raw \x1b", `escaped \u001b and raw \u001b`},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestStringEveryRune checks every rune and every single byte: what String
// returns is printable UTF-8, and a JSON encoding of the rune passed through
// String decodes to the same rune.
func TestStringEveryRune(t *testing.T) {
	check := func(s string) {
		out := String(s)
		if !printable(out) {
			t.Fatalf("String(%q) = %q, not printable UTF-8", s, out)
		}
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		check(s)
		encoded, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var decoded string
		if err := json.Unmarshal([]byte(String(string(encoded))), &decoded); err != nil || decoded != s {
			t.Fatalf("JSON of %U through String: %q, %v", r, decoded, err)
		}
	}
	for b := 0; b < 256; b++ {
		check(string([]byte{byte(b)}))
	}
}
