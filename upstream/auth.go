package upstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// defaultTokenLifetime is how long a token without expires_in is kept.
	defaultTokenLifetime = 60 * time.Second
	maxTokenResponse     = 1 << 20
)

// authorizer authorizes the requests of every upstream of a Set: the
// tokens it got, by host and scope, and the Basic credentials of the hosts
// that asked for them.
type authorizer struct {
	http        *http.Client
	credentials func(host string) (username, secret string, err error)
	userAgent   string
	now         func() time.Time

	mu     sync.Mutex
	tokens map[tokenKey]*tokenSlot
	basic  map[string]string
}

type tokenKey struct{ host, scope string }

// tokenSlot holds the token of one key; its lock is held while the token is
// fetched, so that callers waiting on it take the one fetched.
type tokenSlot struct {
	mu      sync.Mutex
	token   string
	expires time.Time
}

func newAuthorizer(hc *http.Client, opts Options) *authorizer {
	return &authorizer{
		http:        hc,
		credentials: opts.Credentials,
		userAgent:   opts.UserAgent,
		now:         time.Now,
		tokens:      map[tokenKey]*tokenSlot{},
		basic:       map[string]string{},
	}
}

// authorize sets on req the Authorization known for its host and scope, and
// returns it ("" when none is known).
func (a *authorizer) authorize(req *http.Request, scope string) string {
	a.mu.Lock()
	header, ok := a.basic[req.URL.Host]
	slot := a.tokens[tokenKey{req.URL.Host, scope}]
	a.mu.Unlock()
	if !ok && slot != nil {
		header = slot.bearer(a.now())
	}
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	return header
}

// bearer is the slot's Authorization if its token is still valid, else "".
func (s *tokenSlot) bearer(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == "" || !now.Before(s.expires) {
		return ""
	}
	return "Bearer " + s.token
}

// answer sets on req the Authorization that answers challenges, the
// WWW-Authenticate headers of a 401 to a request of scope that was sent with
// the Authorization sent: a Bearer token (another than sent, fetched when
// none is) or Basic credentials.
func (a *authorizer) answer(req *http.Request, challenges []string, scope, sent string) error {
	host := req.URL.Host
	ch, ok := pickChallenge(challenges)
	if !ok {
		return fmt.Errorf("HTTP 401 without a Bearer or Basic challenge")
	}
	var header string
	var err error
	if ch.scheme == "basic" {
		header, err = a.answerBasic(host)
	} else {
		header, err = a.answerBearer(req.Context(), host, ch, scope, sent)
	}
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", header)
	return nil
}

func (a *authorizer) answerBasic(host string) (string, error) {
	user, secret, err := a.credentialsOf(host)
	switch {
	case err != nil:
		return "", err
	case user == "" && secret == "":
		return "", fmt.Errorf("HTTP 401: the upstream asks for credentials, and none are given for %s", host)
	}
	header := basicAuth(user, secret)
	a.mu.Lock()
	a.basic[host] = header
	a.mu.Unlock()
	return header, nil
}

// answerBearer is the Authorization of a token for the challenge's scope
// (scope when it names none), kept under both scopes.
func (a *authorizer) answerBearer(ctx context.Context, host string, ch challenge, scope, sent string) (string, error) {
	tokenScope := ch.params["scope"]
	if tokenScope == "" {
		tokenScope = scope
	}
	slot := a.slot(tokenKey{host, tokenScope}, tokenKey{host, scope})
	slot.mu.Lock()
	defer slot.mu.Unlock()
	now := a.now()
	if header := "Bearer " + slot.token; slot.token != "" && now.Before(slot.expires) && header != sent {
		return header, nil
	}
	token, lifetime, err := a.fetchToken(ctx, host, ch, tokenScope)
	if err != nil {
		return "", err
	}
	slot.token, slot.expires = token, now.Add(lifetime)
	return "Bearer " + token, nil
}

// slot is the token slot of key, made when there is none, and also kept
// under alias.
func (a *authorizer) slot(key, alias tokenKey) *tokenSlot {
	a.mu.Lock()
	defer a.mu.Unlock()
	slot := a.tokens[key]
	if slot == nil {
		slot = &tokenSlot{}
		a.tokens[key] = slot
	}
	a.tokens[alias] = slot
	return slot
}

// fetchToken gets a token for scope from the challenge's realm, with the
// credentials of host when there are some, and how long it is valid.
func (a *authorizer) fetchToken(ctx context.Context, host string, ch challenge, scope string) (string, time.Duration, error) {
	realm, err := url.Parse(ch.params["realm"])
	if err != nil || realm.Scheme != "http" && realm.Scheme != "https" || realm.Host == "" {
		return "", 0, fmt.Errorf("HTTP 401 with a Bearer challenge whose realm is not an http or https URL")
	}
	q := realm.Query()
	if service := ch.params["service"]; service != "" {
		q.Set("service", service)
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", 0, fmt.Errorf("token %s: %w", redact(realm), err)
	}
	if a.userAgent != "" {
		req.Header.Set("User-Agent", a.userAgent)
	}
	user, secret, err := a.credentialsOf(host)
	if err != nil {
		return "", 0, err
	}
	if user != "" || secret != "" {
		req.Header.Set("Authorization", basicAuth(user, secret))
	}
	return a.readToken(req)
}

// readToken sends the token request req and reads its answer.
func (a *authorizer) readToken(req *http.Request) (string, time.Duration, error) {
	resp, err := a.http.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("token: %w", transportError(req, err))
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("token: %w", statusError(resp))
	}
	defer resp.Body.Close()
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenResponse)).Decode(&body); err != nil {
		return "", 0, fmt.Errorf("token GET %s: the answer is not a token: %w", redact(req.URL), err)
	}
	token := body.Token
	if token == "" {
		token = body.AccessToken
	}
	if token == "" {
		return "", 0, fmt.Errorf("token GET %s: the answer holds no token", redact(req.URL))
	}
	lifetime := defaultTokenLifetime
	if body.ExpiresIn > 0 {
		lifetime = time.Duration(body.ExpiresIn) * time.Second
	}
	return token, lifetime, nil
}

// credentialsOf asks Options.Credentials for host's, once per call.
func (a *authorizer) credentialsOf(host string) (string, string, error) {
	if a.credentials == nil {
		return "", "", nil
	}
	user, secret, err := a.credentials(host)
	if err != nil {
		return "", "", fmt.Errorf("credentials of %s: %w", host, err)
	}
	return user, secret, nil
}

func basicAuth(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// challenge is one challenge of a WWW-Authenticate header: its scheme, in
// lower case, and its parameters.
type challenge struct {
	scheme string
	params map[string]string
}

// pickChallenge is the Bearer challenge of headers, else the Basic one.
func pickChallenge(headers []string) (challenge, bool) {
	var basic *challenge
	for _, h := range headers {
		ch, err := parseChallenge(h)
		switch {
		case err != nil:
			continue
		case ch.scheme == "bearer":
			return ch, true
		case ch.scheme == "basic":
			basic = &ch
		}
	}
	if basic == nil {
		return challenge{}, false
	}
	return *basic, true
}

var errBadChallenge = errors.New("malformed challenge")

// parseChallenge parses `SCHEME k=v, k="quoted \" v"`: a header with one
// challenge, as registries send them.
func parseChallenge(h string) (challenge, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	ch := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimLeft(rest, ", ") {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return challenge{}, errBadChallenge
		}
		value, tail, err := challengeValue(strings.TrimSpace(after))
		if err != nil {
			return challenge{}, err
		}
		ch.params[strings.ToLower(strings.TrimSpace(key))] = value
		rest = tail
	}
	return ch, nil
}

// challengeValue reads the value at the start of s, quoted or a token, and
// returns what follows it.
func challengeValue(s string) (value, rest string, err error) {
	if !strings.HasPrefix(s, `"`) {
		value, rest, _ = strings.Cut(s, ",")
		return strings.TrimSpace(value), rest, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errBadChallenge
}
