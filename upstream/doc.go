// Package upstream is a client of the registries a recording mirror pulls
// through: the OCI Distribution API v2 as a reader uses it (manifests,
// blobs, referrers), and the set of configured upstreams with the routing
// of a requested repository name to one of them.
//
// An upstream is given as [REGISTRY=]URL (ParseSpec). The one without a
// REGISTRY serves the names asked for without containerd's ?ns=; a named one
// serves ?ns=REGISTRY and the names REGISTRY/PATH. Nothing else is ever
// contacted: a name no upstream serves is not routed (Set.Route).
//
// Requests go out anonymous first. A 401 with a Bearer challenge gets a
// token from the challenge's realm, with Basic credentials when
// Options.Credentials gives some; a token is kept per host and scope until it
// expires and sent with the next requests of that scope. A Basic challenge is
// answered with Basic credentials, kept for the host. A second 401 is an
// error, never a loop. Redirects (a blob's storage) are followed; the
// Authorization header never goes to another host than the one it was
// meant for.
//
// Everything fetched is verified before it is handed on: a manifest against
// the digest asked for or the Docker-Content-Digest header, a blob by
// cache.Cache.Fill, which stores it and serves its readers as it arrives,
// holding back its last byte until it matched. One blob is fetched once,
// however many callers ask at once. Manifests fetched are kept in the cache
// by digest, so a manifest asked for by digest after its tag is not fetched
// again.
//
// Errors are one line that names the upstream URL (scheme, host and path,
// never credentials, a token or a query string) and the problem. What the
// upstream does not have wraps fs.ErrNotExist; anything else (unreachable, a
// 5xx, a refused authorization, a digest that does not match, a manifest too
// large) wraps ErrUnavailable, with errkind's kind when there is one.
package upstream
