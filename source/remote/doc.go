// Package remote reads an archive where it is kept, on a web server or in
// an object store, by HTTP range requests: Source is a source.Source over
// an http://, https:// (a presigned URL included) or s3:// location, so
// that archive indexes and serves it as it does a local file.
//
// # Requests
//
// Open makes one request, a GET of the first window (Options.Window,
// 64 KiB) with Range: bytes=0-WINDOW-1, which learns the size of the object
// from Content-Range and its validator: the ETag, else Last-Modified. Every
// later request carries If-Match with that ETag (If-Unmodified-Since with
// Last-Modified when there is no strong ETag), and its answer must give the
// same size and validator: otherwise, or on a 412, the request fails with
// ErrChanged, and so does every read of the Source after it. Whatever was
// built from the Source (an index, a cache entry under its Identity) is
// then rebuilt from a new one; bytes of the old and the new object are
// never mixed. A server that gives neither ETag nor Last-Modified is
// trusted not to change the object unless its size changes.
//
// ReadAt serves a small read from the windows it keeps (Options.Windows,
// 8, least recently used dropped), fetching a window from the offset it
// reads when none holds it, or ending at the end of the object, where
// reads go backwards. Indexing a tar reads its headers one after another:
// the headers of the entries smaller than a window come with the window
// before them, so that indexing costs one request, the first, one per
// entry larger than a window, and one per window's worth of the other
// entries: an image archive's small entries (oci-layout, index.json,
// manifests, configs) take a few KiB, so that it costs 1 + its layers
// larger than a window, and a window each. A read of a window or more, and OpenRange,
// the stream a blob is read through, make one GET of exactly the bytes
// asked, read straight into the caller's buffer. Concurrent reads of one
// window wait for one request.
//
// A request that fails on the connection, a timeout, a 5xx or a 429 is
// tried again, Options.Retries times (5), after waiting Options.Backoff,
// twice as long each time, up to Options.MaxBackoff. A response that breaks
// off, or gives nothing for Options.IdleTimeout, is resumed by a GET of the
// rest, so that a connection dropped in the middle of a blob costs the
// bytes it had not sent; retries count the failures in a row without a
// byte coming. Stats counts requests, bytes, retries and resumes.
//
// A server that answers the first ranged GET with 200 and the whole object
// is one no Source can read without downloading it: when the object is no
// larger than a window it is kept whole, and otherwise Open fails with
// ErrNoRange, whose message the caller extends with its own way out.
//
// # Errors and secrets
//
// Every error is one line that starts with Name: the URL without userinfo
// and query string, or s3://BUCKET/KEY, so that a password or presigned
// signature (X-Amz-Signature, X-Amz-Credential) never shows. The url.Error
// of net/http, which holds the whole URL, is unwrapped. 404, 401 and 403
// wrap ErrNotFound, ErrUnauthorized and ErrForbidden (a 403 of S3 whose code
// says the credentials are wrong, SignatureDoesNotMatch for a wrong secret
// key, is ErrUnauthorized); an error body shows only its S3 error code,
// since S3 echoes the string to sign. A certificate that does not verify is
// ErrTLS, a timeout ErrTimeout. Identity hashes the URL without userinfo
// and query, the validator and the size: a new presigned URL for the same
// object has the same identity.
//
// # S3
//
// s3://BUCKET/KEY is an HTTP source whose requests are signed with AWS
// Signature Version 4, from credentials, region and endpoint resolved as
// the AWS CLI resolves them (S3ConfigFromEnv), unless Options.S3 gives
// them. Servers other than AWS are addressed path-style, ENDPOINT/BUCKET/KEY;
// AWS virtual-hosted-style, https://BUCKET.s3.REGION.amazonaws.com/KEY.
// Requests carry x-amz-content-sha256 with the hash of the empty payload of
// a GET, which every S3 server takes, and x-amz-security-token with a
// session token.
//
// The signature is that of the aws/signer/v4 package of
// github.com/aws/aws-sdk-go-v2, the core module of the AWS SDK, over
// net/http: it is the signer AWS maintains and tests against its own
// vectors, and it adds two modules, the core and github.com/aws/smithy-go,
// which have no dependencies of their own and which the module graph of
// containers/image held already (through sigstore/fulcio). minio-go's
// signer would bring minio-go v7 whole, a full S3 client, with
// klauspost/cpuid and minio/md5-simd, in a module graph of 226 modules
// against 2, for the same few hundred lines; resolving
// credentials takes the SDK's config module and its STS, SSO and IMDS
// clients, so the few rules of the AWS CLI that this package follows are
// written here instead: static keys from the environment or the shared
// files, no roles, SSO or instance metadata.
//
// # References
//
// IsRemote tells a remote location from a path in what follows "oci-tar:",
// and SplitReference splits it into location and selector: the location
// ends at its first colon after the host, so that a selector may hold
// colons; a presigned URL's query string stays in the location, and a colon
// in a path or query string is written %3A. Redact shows a location without
// its secrets, for the logs and errors of callers.
package remote
