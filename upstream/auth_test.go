package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "tok-secret"

// credentialsLog is an Options.Credentials that gives user and secret and
// records the hosts asked for.
type credentialsLog struct {
	user, secret string
	mu           sync.Mutex
	hosts        []string
}

func (c *credentialsLog) get(host string) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hosts = append(c.hosts, host)
	return c.user, c.secret, nil
}

// tokenRealm is a token server that gives testToken, valid expiresIn seconds
// (none given when 0).
func tokenRealm(t *testing.T, expiresIn int) *fakeServer {
	body := `{"token":"` + testToken + `"}`
	if expiresIn != 0 {
		body = fmt.Sprintf(`{"access_token":%q,"expires_in":%d}`, testToken, expiresIn)
	}
	return newFakeServer(t, map[string]response{"/token": ok([]byte(body))})
}

// bearerRegistry is a registry that serves the test manifest as team/app:1
// to requests with testToken, and answers others 401 with a challenge of
// realm.
func bearerRegistry(t *testing.T, realm *fakeServer) *fakeServer {
	srv := newFakeServer(t, map[string]response{"/v2/team/app/manifests/1": ok(testManifest)})
	srv.gate = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") == "Bearer "+testToken {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.URL+`/token",service="fake \"registry\"",scope="repository:team/app:pull"`)
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	return srv
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name        string
		credentials *credentialsLog
		basic       string
	}{
		{"anonymous", nil, ""},
		{"no credentials for the host", &credentialsLog{}, ""},
		{"credentials", &credentialsLog{user: "user", secret: "hunter2"}, basicAuth("user", "hunter2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			realm := tokenRealm(t, 300)
			registry := bearerRegistry(t, realm)
			opts := Options{}
			if tt.credentials != nil {
				opts.Credentials = tt.credentials.get
			}
			repo := route(t, newTestSet(t, opts, registry.URL), "", "team/app")
			for range 2 {
				if _, _, _, err := repo.Manifest(context.Background(), "1", nil); err != nil {
					t.Fatal(err)
				}
			}
			tokens := realm.requests("")
			if len(tokens) != 1 || tokens[0].authorization != tt.basic {
				t.Fatalf("the realm saw %+v; want one request with %q", tokens, tt.basic)
			}
			if q, _ := url.ParseQuery(tokens[0].query); q.Get("scope") != "repository:team/app:pull" || q.Get("service") != `fake "registry"` {
				t.Errorf("the token request asked for %s", tokens[0].query)
			}
			var auths []string
			for _, s := range registry.requests("") {
				auths = append(auths, s.authorization)
			}
			if want := []string{"", "Bearer " + testToken, "Bearer " + testToken}; strings.Join(auths, "|") != strings.Join(want, "|") {
				t.Errorf("the registry saw %q; want %q", auths, want)
			}
			if tt.credentials != nil && strings.Join(tt.credentials.hosts, " ") != strings.TrimPrefix(registry.URL, "http://") {
				t.Errorf("Credentials was asked for %q; want the registry's host once", tt.credentials.hosts)
			}
		})
	}
}

func TestBearerTokenExpiry(t *testing.T) {
	tests := []struct {
		expiresIn int
		after     time.Duration
		fetches   int
	}{
		{expiresIn: 10, after: 9 * time.Second, fetches: 1},
		{expiresIn: 10, after: 10 * time.Second, fetches: 2},
		{after: 59 * time.Second, fetches: 1},
		{after: 60 * time.Second, fetches: 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.expiresIn, tt.after), func(t *testing.T) {
			realm := tokenRealm(t, tt.expiresIn)
			set := newTestSet(t, Options{}, bearerRegistry(t, realm).URL)
			now := time.Now()
			set.unnamed.auth.now = func() time.Time { return now }
			repo := route(t, set, "", "team/app")
			for _, step := range []time.Duration{0, tt.after} {
				now = now.Add(step)
				if _, _, _, err := repo.Manifest(context.Background(), "1", nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(realm.requests("")); got != tt.fetches {
				t.Errorf("%d token requests; want %d", got, tt.fetches)
			}
		})
	}
}

func TestBearerTokenRefused(t *testing.T) {
	realm := tokenRealm(t, 300)
	registry := bearerRegistry(t, realm)
	registry.gate = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.URL+`/token",service="fake"`)
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	_, _, _, err := route(t, newTestSet(t, Options{}, registry.URL), "", "team/app").Manifest(context.Background(), "1", nil)
	checkError(t, err, registry.URL+"/v2/team/app/manifests/1", ErrUnavailable)
	if n, m := len(registry.requests("")), len(realm.requests("")); n != 2 || m != 1 {
		t.Errorf("%d requests to the registry, %d to the realm; want 2 and 1", n, m)
	}
}

func TestBasicChallenge(t *testing.T) {
	tests := []struct {
		name        string
		credentials *credentialsLog
		err         string
	}{
		{"credentials", &credentialsLog{user: "user", secret: "hunter2"}, ""},
		{"none", &credentialsLog{}, "none are given"},
		{"wrong", &credentialsLog{user: "user", secret: "wrong"}, "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			registry := newFakeServer(t, map[string]response{"/v2/app/manifests/1": ok(testManifest)})
			registry.gate = func(w http.ResponseWriter, r *http.Request) bool {
				if user, secret, ok := r.BasicAuth(); ok && user == "user" && secret == "hunter2" {
					return true
				}
				w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
				w.WriteHeader(http.StatusUnauthorized)
				return false
			}
			repo := route(t, newTestSet(t, Options{Credentials: tt.credentials.get}, registry.URL), "", "app")
			_, _, _, err := repo.Manifest(context.Background(), "1", nil)
			if tt.err != "" {
				checkError(t, err, registry.URL+"/v2/app/manifests/1", ErrUnavailable)
				if !strings.Contains(err.Error(), tt.err) {
					t.Errorf("%v does not say %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := repo.Manifest(context.Background(), "1", nil); err != nil {
				t.Fatal(err)
			}
			var auths []string
			for _, s := range registry.requests("") {
				auths = append(auths, s.authorization)
			}
			basic := basicAuth("user", "hunter2")
			if want := []string{"", basic, basic}; strings.Join(auths, "|") != strings.Join(want, "|") {
				t.Errorf("the registry saw %q; want %q", auths, want)
			}
			if len(tt.credentials.hosts) != 1 {
				t.Errorf("Credentials asked %d times; want once", len(tt.credentials.hosts))
			}
		})
	}
}

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		header string
		want   string
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`,
			"bearer realm=https://auth.docker.io/token scope=repository:library/alpine:pull service=registry.docker.io"},
		{`bearer realm=https://r/t, service=s`, "bearer realm=https://r/t service=s"},
		{`Basic realm="a \"b\", c"`, `basic realm=a "b", c`},
		{`Basic`, "basic"},
		{`Bearer realm="unterminated`, "error"},
		{`Bearer realm`, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			ch, err := parseChallenge(tt.header)
			got := "error"
			if err == nil {
				got = ch.scheme
				for _, k := range []string{"realm", "scope", "service"} {
					if v, ok := ch.params[k]; ok {
						got += " " + k + "=" + v
					}
				}
			}
			if got != tt.want {
				t.Errorf("parseChallenge = %s; want %s", got, tt.want)
			}
		})
	}
}

// TestErrorsHoldNoSecret gathers the errors of a refused token request, a
// registry failing after authorization and a storage URL with a signature,
// and looks for every secret in them.
func TestErrorsHoldNoSecret(t *testing.T) {
	const signature = "sig-secret"
	creds := &credentialsLog{user: "user", secret: "hunter2"}
	refusing := newFakeServer(t, map[string]response{"/token": {status: http.StatusUnauthorized, body: []byte(`{"errors":[{"code":"UNAUTHORIZED","message":"hunter2"}]}`)}})
	realm := tokenRealm(t, 300)
	storage := newFakeServer(t, map[string]response{"/blob": {status: http.StatusInternalServerError, body: []byte(signature)}})
	failing := bearerRegistry(t, realm)
	failing.routes["/v2/team/app/manifests/1"] = response{status: http.StatusBadGateway, body: []byte(testToken)}
	failing.routes["/v2/team/app/manifests/2"] = response{status: http.StatusTemporaryRedirect, header: http.Header{"Location": {storage.URL + "/blob?X-Amz-Signature=" + signature}}}
	var errs []error
	for _, registry := range []*fakeServer{bearerRegistry(t, refusing), failing} {
		repo := route(t, newTestSet(t, Options{Credentials: creds.get}, registry.URL), "", "team/app")
		for _, ref := range []string{"1", "2"} {
			_, _, _, err := repo.Manifest(context.Background(), ref, nil)
			if err == nil {
				t.Fatalf("%s: no error", ref)
			}
			errs = append(errs, err)
		}
	}
	for _, err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%v is not ErrUnavailable", err)
		}
		for _, secret := range []string{"hunter2", basicAuth("user", "hunter2"), testToken, signature} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%v shows %q", err, secret)
			}
		}
	}
}
