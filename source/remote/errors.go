package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Error kinds, for errors.Is. Every error of this package is one line that
// starts with the object's Name and never holds a credential, a session
// token or a query string.
var (
	// ErrChanged: the object is not the one opened (a 412 to If-Match or
	// If-Unmodified-Since, another ETag, size or Last-Modified). What was
	// built from the Source must be rebuilt from a new one.
	ErrChanged = errors.New("the object changed since it was opened")
	// ErrNoRange: the server answers a ranged GET with the whole object.
	ErrNoRange = errors.New("the server ignores Range requests")
	// ErrNotFound: 404.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: 401, or a 403 of S3 that refuses the credentials
	// (SignatureDoesNotMatch: a wrong secret key; InvalidAccessKeyId;
	// ExpiredToken).
	ErrUnauthorized = errors.New("not authorized")
	// ErrForbidden: any other 403.
	ErrForbidden = errors.New("access denied")
	// ErrTLS: the TLS handshake failed, most often on a certificate that
	// does not verify.
	ErrTLS = errors.New("TLS handshake failed")
	// ErrTimeout: a request or a read timed out.
	ErrTimeout = errors.New("timed out")
	// ErrStatus: any other status that is not a success.
	ErrStatus = errors.New("unexpected status")
)

// s3Code is an S3 error code, the one part of an error body shown: the
// rest may echo the string to sign and the access key.
var s3Code = regexp.MustCompile(`<Code>([A-Za-z0-9.]{1,64})</Code>`)

// statusError is the error for a response of status other than 2xx.
func statusError(name string, resp *http.Response) error {
	defer resp.Body.Close()
	code := errorCode(resp)
	detail := resp.Status
	if code != "" {
		detail += ", " + code
	}
	return &statusErr{code: resp.StatusCode, err: fmt.Errorf("%s: %w (HTTP %s)", name, statusKind(resp.StatusCode, code), detail)}
}

// statusKind is the kind of a status, and of the S3 error code the body
// gave.
func statusKind(status int, code string) error {
	switch status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		if badCredentials[code] {
			return ErrUnauthorized
		}
		return ErrForbidden
	case http.StatusPreconditionFailed, http.StatusRequestedRangeNotSatisfiable:
		return ErrChanged
	}
	return ErrStatus
}

// badCredentials are the S3 error codes of a 403 that refuses the
// credentials themselves, rather than their access to the object.
var badCredentials = map[string]bool{
	"SignatureDoesNotMatch": true,
	"InvalidAccessKeyId":    true,
	"InvalidToken":          true,
	"ExpiredToken":          true,
	"TokenRefreshRequired":  true,
}

// errorCode reads the S3 error code from the head of an error body.
func errorCode(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if m := s3Code.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// statusErr keeps the status code for retryable.
type statusErr struct {
	code int
	err  error
}

func (e *statusErr) Error() string { return e.err.Error() }
func (e *statusErr) Unwrap() error { return e.err }

// transportError is the error for a request that got no response, or a
// body that broke off: the url.Error that net/http returns holds the whole
// URL, query string included, so only what it wraps is kept.
func transportError(name string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s: %w", name, classify(err))
}

// classify wraps err in ErrTLS or ErrTimeout when it is one.
func classify(err error) error {
	switch {
	case errors.Is(err, ErrTimeout):
		return err
	case isTLS(err):
		return fmt.Errorf("%w: %w", ErrTLS, err)
	case isTimeout(err):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

func isTLS(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	// net/http turns the RecordHeaderError of a server of plain HTTP into
	// an error of its own, which it does not export.
	return strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") ||
		errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// retryable tells a failure that a later attempt may not meet: the
// connection, a timeout, a 5xx or a 429.
func retryable(err error) bool {
	var se *statusErr
	switch {
	case errors.As(err, &se):
		return se.code >= 500 || se.code == http.StatusTooManyRequests
	case errors.Is(err, context.Canceled), errors.Is(err, ErrChanged), errors.Is(err, ErrNoRange),
		errors.Is(err, ErrTLS), errors.Is(err, ErrNotFound), errors.Is(err, ErrForbidden),
		errors.Is(err, ErrUnauthorized), errors.Is(err, ErrStatus):
		return false
	}
	var dns *net.DNSError
	return !(errors.As(err, &dns) && dns.IsNotFound)
}
