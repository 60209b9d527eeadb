package remote

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestS3ConfigURL(t *testing.T) {
	tests := []struct {
		cfg         S3Config
		bucket, key string
		want        string
	}{
		{S3Config{}, "bucket", "dir/a.tar", "https://bucket.s3.us-east-1.amazonaws.com/dir/a.tar"},
		{S3Config{Region: "eu-west-1"}, "bucket", "a.tar", "https://bucket.s3.eu-west-1.amazonaws.com/a.tar"},
		{S3Config{Region: "eu-west-1"}, "my.bucket", "a.tar", "https://s3.eu-west-1.amazonaws.com/my.bucket/a.tar"},
		{S3Config{Endpoint: "https://s3.eu-west-1.amazonaws.com"}, "bucket", "a.tar", "https://bucket.s3.eu-west-1.amazonaws.com/a.tar"},
		{S3Config{Endpoint: "http://127.0.0.1:9000"}, "bucket", "dir/a.tar", "http://127.0.0.1:9000/bucket/dir/a.tar"},
		{S3Config{Endpoint: "http://127.0.0.1:9000/"}, "bucket", "a.tar", "http://127.0.0.1:9000/bucket/a.tar"},
		{S3Config{Endpoint: "https://gw.example/s3"}, "bucket", "a.tar", "https://gw.example/s3/bucket/a.tar"},
		{S3Config{Endpoint: "http://[::1]:9000"}, "bucket", "a b+c:d%e(f)/ü.tar", "http://[::1]:9000/bucket/a%20b%2Bc%3Ad%25e%28f%29/%C3%BC.tar"},
	}
	for _, tt := range tests {
		u, err := tt.cfg.URL(tt.bucket, tt.key)
		if err != nil {
			t.Errorf("%+v: %v", tt.cfg, seen(err))
			continue
		}
		if u.String() != tt.want {
			t.Errorf("URL(%q, %q) with %+v = %s, want %s", tt.bucket, tt.key, tt.cfg, u, tt.want)
		}
		if !strings.HasSuffix(u.Path, tt.key) {
			t.Errorf("URL(%q, %q): path %q", tt.bucket, tt.key, u.Path)
		}
	}
	for _, e := range []string{"127.0.0.1:9000", "ftp://h", "http://h?x=" + testSignature, "http://"} {
		if _, err := (S3Config{Endpoint: e}).URL("bucket", "k"); seen(err) == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
}

// The example "GET Object" of the documentation of SigV4 for S3
// (sig-v4-header-based-auth), with its credentials.
const (
	vectorAccessKey = "AKIAIOSFODNN7EXAMPLE"
	vectorSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	vectorSignature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
)

// TestS3ConfigSignVector signs AWS's example request, and checks both the
// signature and verifySigV4, the independent check the servers of the
// other tests make, against AWS's own.
func TestS3ConfigSignVector(t *testing.T) {
	cfg := S3Config{
		Credentials: Credentials{AccessKeyID: vectorAccessKey, SecretAccessKey: vectorSecretKey},
		Now:         func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) },
	}
	req, err := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-9")
	if err := cfg.Sign(req); err != nil {
		t.Fatal(err)
	}
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=" + vectorSignature
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization\n%s\nwant\n%s", got, want)
	}
	req.RequestURI, req.Host = req.URL.RequestURI(), req.URL.Host
	if err := verifySigV4(req, vectorSecretKey); err != nil {
		t.Errorf("verifySigV4 refuses AWS's example: %v", err)
	}
	req.Header.Set("Range", "bytes=0-10")
	if err := verifySigV4(req, vectorSecretKey); err == nil {
		t.Error("verifySigV4 takes the example with another range")
	}
}

// verifySigV4 checks the SigV4 signature of a request a server got, as
// the documentation of SigV4 says, independently of the signer.
func verifySigV4(r *http.Request, secret string) error {
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if !ok {
		return errors.New("no AWS4-HMAC-SHA256 Authorization")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.SplitN(fields["Credential"], "/", 2)
	signed := strings.Split(fields["SignedHeaders"], ";")
	date := r.Header.Get("X-Amz-Date")
	if len(scope) != 2 || !strings.HasPrefix(scope[1], date[:min(8, len(date))]+"/") {
		return fmt.Errorf("credential scope %q for date %q", fields["Credential"], date)
	}
	for _, h := range []string{"host", "x-amz-content-sha256", "x-amz-date"} {
		if !slices.Contains(signed, h) {
			return fmt.Errorf("%s not signed", h)
		}
	}
	if r.Header.Get("X-Amz-Security-Token") != "" && !slices.Contains(signed, "x-amz-security-token") {
		return errors.New("the session token is not signed")
	}
	var headers strings.Builder
	for _, h := range signed {
		v := strings.Join(r.Header.Values(h), ",")
		if h == "host" {
			v = r.Host
		}
		fmt.Fprintf(&headers, "%s:%s\n", h, strings.TrimSpace(v))
	}
	path, query, _ := strings.Cut(r.RequestURI, "?")
	canonical := strings.Join([]string{r.Method, path, query, headers.String(), fields["SignedHeaders"], r.Header.Get("X-Amz-Content-Sha256")}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + date + "\n" + scope[1] + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secret)
	for _, part := range strings.Split(scope[1], "/") {
		key = hmacSHA256(key, part)
	}
	if got := hex.EncodeToString(hmacSHA256(key, toSign)); got != fields["Signature"] {
		return errors.New("signature does not match")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// s3Check is an objectServer check that serves /BUCKET/KEY to requests
// signed with secret, and answers as S3 does otherwise.
func s3Check(bucket, key, secret string) func(*http.Request) (int, string) {
	return func(r *http.Request) (int, string) {
		if r.URL.Path != "/"+bucket+"/"+key {
			return http.StatusNotFound, "<Error><Code>NoSuchKey</Code></Error>"
		}
		if r.Header.Get("Authorization") == "" {
			return http.StatusForbidden, "<Error><Code>AccessDenied</Code></Error>"
		}
		if err := verifySigV4(r, secret); err != nil {
			return http.StatusForbidden, "<Error><Code>SignatureDoesNotMatch</Code><Message>" + err.Error() + "</Message><StringToSign>" + r.Header.Get("Authorization") + "</StringToSign></Error>"
		}
		return 0, ""
	}
}

func TestOpenS3(t *testing.T) {
	const bucket, key = "bucket", "dir/a b+c.tar"
	data := pattern(200<<10, 30)
	tests := []struct {
		name  string
		creds Credentials
		key   string
		kind  error
		text  string
	}{
		{"signed", Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, key, nil, ""},
		{"with a session token", Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, SessionToken: testSessionToken}, key, nil, ""},
		{"wrong secret key", Credentials{AccessKeyID: testAccessKey, SecretAccessKey: "wrong" + testSecretKey}, key, ErrUnauthorized,
			"s3://bucket/dir/a b+c.tar: not authorized (HTTP 403 Forbidden, SignatureDoesNotMatch)"},
		{"no credentials", Credentials{}, key, ErrForbidden,
			"s3://bucket/dir/a b+c.tar: access denied (HTTP 403 Forbidden, AccessDenied); no AWS credentials were found (AWS_ACCESS_KEY_ID, AWS_PROFILE)"},
		{"no such key", Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, "other.tar", ErrNotFound,
			"s3://bucket/other.tar: not found (HTTP 404 Not Found, NoSuchKey)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newObjectServer(t, data, false)
			srv.with(func() { srv.check = s3Check(bucket, key, testSecretKey) })
			cfg := &S3Config{Endpoint: srv.URL, Region: "eu-west-3", Credentials: tt.creds}
			opts := testOptions(srv, &waits{})
			opts.S3 = cfg
			src, err := Open(context.Background(), "s3://"+bucket+"/"+tt.key, opts)
			if tt.kind != nil {
				if !errors.Is(seen(err), tt.kind) || err.Error() != tt.text {
					t.Fatalf("Open: %v, want %q", err, tt.text)
				}
				return
			}
			if err != nil {
				t.Fatal(seen(err))
			}
			seenName(src.Name())
			if src.Name() != "s3://"+bucket+"/"+key {
				t.Errorf("Name = %q", src.Name())
			}
			p := make([]byte, 100<<10)
			if _, err := src.ReadAt(p, 90<<10); err != nil {
				t.Fatal(seen(err))
			}
			if string(p) != string(data[90<<10:190<<10]) {
				t.Error("other bytes")
			}
			for i, r := range srv.got() {
				for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
					if r.Header.Get(h) == "" {
						t.Errorf("request %d has no %s", i, h)
					}
				}
				if got := r.Header.Get("X-Amz-Security-Token"); got != tt.creds.SessionToken {
					t.Errorf("request %d: X-Amz-Security-Token %q, want %q", i, got, tt.creds.SessionToken)
				}
				if i > 0 && r.Header.Get("If-Match") == "" {
					t.Errorf("request %d has no If-Match", i)
				}
				if !strings.Contains(r.Header.Get("Authorization"), "/eu-west-3/s3/aws4_request") {
					t.Errorf("request %d: Authorization %q", i, r.Header.Get("Authorization"))
				}
			}
		})
	}
}

// TestOpenS3FromEnv reads the configuration from the environment when
// Options.S3 is nil.
func TestOpenS3FromEnv(t *testing.T) {
	srv := newObjectServer(t, pattern(1000, 31), false)
	srv.with(func() { srv.check = s3Check("bucket", "a.tar", testSecretKey) })
	t.Setenv("HOME", t.TempDir())
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": testAccessKey, "AWS_SECRET_ACCESS_KEY": testSecretKey, "AWS_SESSION_TOKEN": testSessionToken,
		"AWS_ENDPOINT_URL_S3": srv.URL, "AWS_REGION": "us-west-2", "AWS_PROFILE": "", "AWS_ENDPOINT_URL": "",
		"AWS_SHARED_CREDENTIALS_FILE": "", "AWS_CONFIG_FILE": "", "AWS_DEFAULT_REGION": "",
	} {
		t.Setenv(k, v)
	}
	src := mustOpen(t, "s3://bucket/a.tar", testOptions(srv, &waits{}))
	if src.Size() != 1000 {
		t.Errorf("Size = %d", src.Size())
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	if _, err := Open(context.Background(), "s3://bucket/a.tar", testOptions(srv, &waits{})); !errors.Is(seen(err), ErrUnauthorized) {
		t.Errorf("Open with a wrong secret: %v, want ErrUnauthorized", err)
	}
	t.Setenv("AWS_PROFILE", "missing")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := Open(context.Background(), "s3://bucket/a.tar", testOptions(srv, &waits{})); seen(err) == nil || !strings.HasPrefix(err.Error(), "s3://bucket/a.tar: AWS profile \"missing\"") {
		t.Errorf("Open with a missing profile: %v", err)
	}
}
