package registry

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Htpasswd holds the users of an htpasswd file with bcrypt entries
// (htpasswd -B), as distribution's htpasswd authentication reads.
type Htpasswd struct {
	hashes map[string][]byte

	mu       sync.Mutex
	accepted map[string][sha256.Size]byte // per user, a hash of the password bcrypt last accepted
}

// LoadHtpasswd reads the htpasswd file at path.
func LoadHtpasswd(path string) (*Htpasswd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseHtpasswd(f, path)
}

// ParseHtpasswd reads htpasswd lines, USER:BCRYPT-HASH; blank lines and lines
// starting with # are skipped. Errors name the file as name, and the line.
func ParseHtpasswd(r io.Reader, name string) (*Htpasswd, error) {
	h := &Htpasswd{hashes: map[string][]byte{}, accepted: map[string][sha256.Size]byte{}}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s: line %d: not USER:HASH", name, line)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s: line %d: user %q: not a bcrypt hash (make entries with htpasswd -B): %w", name, line, user, err)
		}
		h.hashes[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(h.hashes) == 0 {
		return nil, fmt.Errorf("%s: no users", name)
	}
	return h, nil
}

// allows reports whether r carries the Basic credentials of a user.
func (h *Htpasswd) allows(r *http.Request) bool {
	user, password, ok := r.BasicAuth()
	return ok && h.Authenticate(user, password)
}

// Authenticate reports whether password is the password of user. bcrypt is
// slow by design and clients send credentials with every request, so a
// password once accepted is remembered, as a SHA-256 hash, until it changes.
func (h *Htpasswd) Authenticate(user, password string) bool {
	hash, ok := h.hashes[user]
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(password))
	h.mu.Lock()
	last, seen := h.accepted[user]
	h.mu.Unlock()
	if seen && subtle.ConstantTimeCompare(last[:], sum[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return false
	}
	h.mu.Lock()
	h.accepted[user] = sum
	h.mu.Unlock()
	return true
}
