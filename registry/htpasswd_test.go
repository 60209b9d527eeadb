package registry

import (
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// htpasswdLine is a bcrypt htpasswd entry for user and password.
func htpasswdLine(t *testing.T, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + string(hash)
}

func TestParseHtpasswd(t *testing.T) {
	good := htpasswdLine(t, "alice", "secret")
	cases := []struct {
		text, err string
	}{
		{"# users\n\n" + good + "\n", ""},
		{good + "\nbob:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs=\n", `line 2: user "bob": not a bcrypt hash`},
		{"bob:$apr1$x$y\n", `line 1: user "bob": not a bcrypt hash`},
		{"nocolon\n", "line 1: not USER:HASH"},
		{":" + strings.SplitN(good, ":", 2)[1] + "\n", "line 1: not USER:HASH"},
		{"# nobody\n", "no users"},
	}
	for _, c := range cases {
		_, err := ParseHtpasswd(strings.NewReader(c.text), "users.htpasswd")
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), "users.htpasswd: "+c.err)) {
			t.Errorf("%q: %v, want %q", c.text, err, c.err)
		}
	}
}

// TestHandlerBasicAuth serves to the users of an htpasswd file only.
func TestHandlerBasicAuth(t *testing.T) {
	users, err := ParseHtpasswd(strings.NewReader(htpasswdLine(t, "alice", "secret")+"\n"+htpasswdLine(t, "bob", "other")), "users")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	srv, _, _ := serve(t, Options{Users: users, Realm: "test"}, openArchive(t, f.path, "bundle"))
	basic := func(user, password string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
	}
	cases := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no credentials", nil, 401},
		{"wrong password", basic("alice", "guess"), 401},
		{"another user's password", basic("alice", "other"), 401},
		{"unknown user", basic("eve", "secret"), 401},
		{"bearer", map[string]string{"Authorization": "Bearer x"}, 401},
		{"alice", basic("alice", "secret"), 200},
		{"alice again, remembered", basic("alice", "secret"), 200},
		{"alice, wrong after right", basic("alice", "secreT"), 401},
		{"bob", basic("bob", "other"), 200},
	}
	for _, c := range cases {
		for _, path := range []string{"/v2/", "/v2/example.com/team/app/manifests/1", "/v2/example.com/team/app/blobs/" + f.bigDigest.String()} {
			resp := do(t, srv, "GET", path, c.header)
			if resp.status != c.status {
				t.Errorf("%s, %s: %d, want %d", c.name, path, resp.status, c.status)
			}
			if c.status == 401 && (resp.code() != "UNAUTHORIZED" || resp.header.Get("WWW-Authenticate") != `Basic realm="test"`) {
				t.Errorf("%s, %s: %q, WWW-Authenticate %q", c.name, path, resp.code(), resp.header.Get("WWW-Authenticate"))
			}
		}
	}
	if resp := do(t, srv, "DELETE", "/v2/example.com/team/app/manifests/1", nil); resp.status != 401 {
		t.Errorf("DELETE without credentials: %d", resp.status)
	}
}
