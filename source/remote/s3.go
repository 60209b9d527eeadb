package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// emptySHA256 is the hash of an empty payload, that of every GET.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// S3Config is how s3:// locations are reached.
type S3Config struct {
	// Region signs requests and, without Endpoint, names the AWS endpoint;
	// "" is us-east-1.
	Region string
	// Endpoint is the URL of a server other than AWS, addressed path-style
	// (ENDPOINT/BUCKET/KEY); "" is AWS, addressed virtual-hosted-style
	// (https://BUCKET.s3.REGION.amazonaws.com/KEY), or path-style for a
	// bucket whose name has a dot, which the certificate of AWS does not
	// cover.
	Endpoint string
	// Credentials sign the requests; without an access key, requests go
	// unsigned, as for a public bucket.
	Credentials Credentials
	// Now is the clock of signatures; nil is time.Now.
	Now func() time.Time
}

// Credentials are AWS credentials. They format as a placeholder, never
// as themselves.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

func (c Credentials) String() string {
	if c.AccessKeyID == "" {
		return "no AWS credentials"
	}
	return "AWS credentials (not shown)"
}

func (c Credentials) GoString() string { return c.String() }

// ParseS3 splits s3://BUCKET/KEY. The key is taken as written, as the
// AWS CLI does: %XX in it is no escape.
func ParseS3(location string) (bucket, key string, err error) {
	if !hasScheme(location, "s3") {
		return "", "", fmt.Errorf("%s: not an s3:// location", Redact(location))
	}
	bucket, key, _ = strings.Cut(location[len("s3://"):], "/")
	switch {
	case bucket == "":
		return "", "", fmt.Errorf("%s: no bucket", Redact(location))
	case strings.Trim(bucket, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != "":
		return "", "", fmt.Errorf("%s: invalid bucket name %q", Redact(location), bucket)
	case key == "":
		return "", "", fmt.Errorf("%s: no key", Redact(location))
	}
	return bucket, key, nil
}

func (c S3Config) region() string {
	if c.Region == "" {
		return "us-east-1"
	}
	return c.Region
}

// URL is where the object KEY of BUCKET is.
func (c S3Config) URL(bucket, key string) (*url.URL, error) {
	endpoint := "https://s3." + c.region() + ".amazonaws.com"
	if c.Endpoint != "" {
		endpoint = c.Endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("S3 endpoint %s: not an http:// or https:// URL with a host", Redact(endpoint))
	}
	raw := strings.TrimSuffix(u.EscapedPath(), "/") + "/" + awsEscape(bucket) + "/" + awsEscape(key)
	if isAWS(u.Hostname()) && !strings.Contains(bucket, ".") {
		u.Host = bucket + "." + u.Host
		raw = strings.TrimSuffix(u.EscapedPath(), "/") + "/" + awsEscape(key)
	}
	if u.Path, err = url.PathUnescape(raw); err != nil {
		return nil, fmt.Errorf("S3 endpoint %s: %w", Redact(endpoint), err)
	}
	u.RawPath = raw
	return u, nil
}

func isAWS(host string) bool {
	return strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")
}

// awsEscape escapes a path as SigV4 does for S3: all but the unreserved
// characters of RFC 3986 and '/'.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Sign signs req with SigV4 for S3, unless there are no credentials.
func (c S3Config) Sign(req *http.Request) error {
	if c.Credentials.AccessKeyID == "" {
		return nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	creds := aws.Credentials{
		AccessKeyID:     c.Credentials.AccessKeyID,
		SecretAccessKey: c.Credentials.SecretAccessKey,
		SessionToken:    c.Credentials.SessionToken,
	}
	return v4.NewSigner().SignHTTP(req.Context(), creds, req, emptySHA256, "s3", c.region(), now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// newS3 is the Source of s3://BUCKET/KEY, named so in errors, its requests
// signed with the credentials of opts.S3 or of the environment.
func newS3(ctx context.Context, location string, opts Options) (*Source, error) {
	bucket, key, err := ParseS3(location)
	if err != nil {
		return nil, err
	}
	cfg := opts.S3
	if cfg == nil {
		env, err := S3ConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
		}
		cfg = &env
	}
	u, err := cfg.URL(bucket, key)
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	opts.Sign = chain(opts.Sign, cfg.Sign)
	s := newURL(ctx, u, "s3://"+bucket+"/"+key, opts)
	s.anonymous = cfg.Credentials.AccessKeyID == ""
	return s, nil
}

// credentialsHint adds to a refusal of an S3 request made without
// credentials that none were found.
func (s *Source) credentialsHint(err error) error {
	if s.anonymous && (errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthorized)) {
		return fmt.Errorf("%w; no AWS credentials were found (AWS_ACCESS_KEY_ID, AWS_PROFILE)", err)
	}
	return err
}

// chain signs with first, when set, then with last.
func chain(first, last func(*http.Request) error) func(*http.Request) error {
	if first == nil {
		return last
	}
	return func(req *http.Request) error {
		if err := first(req); err != nil {
			return err
		}
		return last(req)
	}
}
