package remote

import "testing"

func TestSplitReference(t *testing.T) {
	const presigned = "https://h.example/b/a.tar?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=" + testSignature
	tests := []struct {
		in, location, selector string
	}{
		{"https://h.example/a.tar", "https://h.example/a.tar", ""},
		{"https://h.example/a.tar:", "https://h.example/a.tar", ""},
		{"http://h.example/dir/a.tar:app", "http://h.example/dir/a.tar", "app"},
		{"https://h.example:8443/a.tar:app:1", "https://h.example:8443/a.tar", "app:1"},
		{"https://h.example:8443/a.tar:docker.io/library/alpine:3.20", "https://h.example:8443/a.tar", "docker.io/library/alpine:3.20"},
		{"https://[::1]:8080/a.tar:@sha256:0123abcd", "https://[::1]:8080/a.tar", "@sha256:0123abcd"},
		{"http://[fe80::1]/a.tar:@2", "http://[fe80::1]/a.tar", "@2"},
		{"https://user:" + testPassword + "@h.example/a.tar:app", "https://user:" + testPassword + "@h.example/a.tar", "app"},
		{"HTTPS://h.example/a.tar:app", "https://h.example/a.tar", "app"},
		{presigned, presigned, ""},
		{presigned + ":app:1", presigned, "app:1"},
		{"https://h.example/a.tar?t=1%3A2:app", "https://h.example/a.tar?t=1%3A2", "app"},
		{"https://h.example/a%3Ab.tar:app", "https://h.example/a%3Ab.tar", "app"},
		{"s3://bucket/dir/a.tar", "s3://bucket/dir/a.tar", ""},
		{"s3://bucket/dir/a.tar:app:1", "s3://bucket/dir/a.tar", "app:1"},
		{"s3://my.bucket/a.tar:@sha256:0123abcd", "s3://my.bucket/a.tar", "@sha256:0123abcd"},
	}
	for _, tt := range tests {
		loc, sel, err := SplitReference(tt.in)
		if err != nil {
			t.Errorf("SplitReference(%q): %v", tt.in, seen(err))
			continue
		}
		if loc != tt.location || sel != tt.selector {
			t.Errorf("SplitReference(%q) = %q, %q; want %q, %q", tt.in, loc, sel, tt.location, tt.selector)
		}
	}
}

func TestSplitReferenceErrors(t *testing.T) {
	for _, in := range []string{
		"", "a.tar", "/a.tar:app", "ftp://h/a.tar", "https://", "https://h", "https://h:8080", "https:///a.tar",
		"https://h/", "https://h/:app", "https://h:port/a.tar", "https://h/a%zz.tar?X-Amz-Signature=" + testSignature + ":app",
		"https://u:" + testPassword + "@h:x/a.tar", "s3://bucket", "s3://bucket/", "s3://bucket/:app", "s3:///key",
		"s3://b$d/key",
		"https://h/a.tar?se=2025-01-01T00:00:00Z&sig=" + testSignature, "https://h/a:b.tar?sig=" + testSignature,
	} {
		if loc, sel, err := SplitReference(in); seen(err) == nil {
			t.Errorf("SplitReference(%q) = %q, %q; want an error", in, loc, sel)
		}
	}
}

func TestIsRemote(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"https://h/a.tar", true}, {"http://h/a.tar", true}, {"s3://b/k", true}, {"S3://b/k", true}, {"Https://h/a", true},
		{"a.tar", false}, {"/srv/a.tar:app", false}, {"-", false}, {"https:/h/a.tar", false}, {"file:///a.tar", false}, {"http", false},
	}
	for _, tt := range tests {
		if got := IsRemote(tt.in); got != tt.want {
			t.Errorf("IsRemote(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://h/a.tar", "https://h/a.tar"},
		{"https://u:" + testPassword + "@h:8443/a.tar?X-Amz-Signature=" + testSignature + "#f", "https://h:8443/a.tar"},
		{"https://u:p@[::1]:8443/d/a.tar?x", "https://[::1]:8443/d/a.tar"},
		{"s3://bucket/a.tar", "s3://bucket/a.tar"},
		{"a.tar?sig=" + testSignature, "a.tar"},
		{"https://u:" + testPassword + "@h", "https://h"},
	}
	for _, tt := range tests {
		got := Redact(tt.in)
		seenName(got)
		if got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
