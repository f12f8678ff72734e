// Package auth holds the head-end's API users and login sessions: passwords hashed with
// PBKDF2-SHA256 (stdlib crypto/pbkdf2), roles (viewer < operator < admin), and in-memory
// sessions with an idle expiry. It knows no HTTP; the API layer maps it to cookies.
package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Role is an API user's role.
type Role string

// Roles, from least to most privileged.
const (
	RoleViewer   Role = "viewer"   // reads everything
	RoleOperator Role = "operator" // also sends commands
	RoleAdmin    Role = "admin"    // also changes configuration and users
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Validate reports whether r is a known role.
func (r Role) Validate() error {
	if r.rank() == 0 {
		return fmt.Errorf("role %q: want viewer, operator or admin", string(r))
	}
	return nil
}

// Allows reports whether r has at least the privileges of need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && r.rank() > 0 }

// User is an API user.
type User struct {
	Name         string
	Role         Role
	PasswordHash string // from HashPassword
}

// DefaultIterations is the PBKDF2 work factor for new hashes (OWASP 2023 for SHA-256).
const DefaultIterations = 600000

// HashPassword hashes a password as "pbkdf2-sha256$<iterations>$<salt b64>$<key b64>".
func HashPassword(password string, iterations int) (string, error) {
	if iterations <= 0 {
		iterations = DefaultIterations
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// ErrBadHash is returned for a password hash that is not in HashPassword's format.
var ErrBadHash = errors.New("password hash: want pbkdf2-sha256$<iterations>$<salt>$<key>")

func parseHash(h string) (iter int, salt, key []byte, err error) {
	p := strings.Split(h, "$")
	if len(p) != 4 || p[0] != "pbkdf2-sha256" {
		return 0, nil, nil, ErrBadHash
	}
	iter, err = strconv.Atoi(p[1])
	if err != nil || iter < 1000 || iter > 10_000_000 {
		return 0, nil, nil, fmt.Errorf("%w (iterations %q out of 1000..10000000)", ErrBadHash, p[1])
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(p[2]); err != nil || len(salt) < 8 {
		return 0, nil, nil, fmt.Errorf("%w (bad salt)", ErrBadHash)
	}
	if key, err = enc.DecodeString(p[3]); err != nil || len(key) != 32 {
		return 0, nil, nil, fmt.Errorf("%w (bad key)", ErrBadHash)
	}
	return iter, salt, key, nil
}

// CheckPassword reports whether password matches hash, in constant time for the key.
func CheckPassword(hash, password string) bool {
	iter, salt, key, err := parseHash(hash)
	if err != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(key))
	return err == nil && subtle.ConstantTimeCompare(got, key) == 1
}

// ErrBadLogin is returned for an unknown user or a wrong password (indistinguishably).
var ErrBadLogin = errors.New("unknown user or wrong password")

// Users is the set of API users; safe for concurrent use.
type Users struct {
	mu    sync.RWMutex
	users map[string]User
	// verified caches recent successful checks (key: SHA-256 of name, NUL, password) so
	// HTTP Basic clients do not pay the PBKDF2 cost on every request.
	verified map[[32]byte]time.Time
}

// NewUsers validates and indexes users.
func NewUsers(us []User) (*Users, error) {
	m := make(map[string]User, len(us))
	for i, u := range us {
		if u.Name == "" {
			return nil, fmt.Errorf("users[%d]: name: empty", i)
		}
		if err := u.Role.Validate(); err != nil {
			return nil, fmt.Errorf("users[%d] %q: %w", i, u.Name, err)
		}
		if _, _, _, err := parseHash(u.PasswordHash); err != nil {
			return nil, fmt.Errorf("users[%d] %q: %w", i, u.Name, err)
		}
		if _, dup := m[u.Name]; dup {
			return nil, fmt.Errorf("users[%d]: name %q listed twice", i, u.Name)
		}
		m[u.Name] = u
	}
	return &Users{users: m, verified: map[[32]byte]time.Time{}}, nil
}

const verifiedTTL = 5 * time.Minute

// Authenticate checks a name and password.
func (us *Users) Authenticate(name, password string, now time.Time) (User, error) {
	us.mu.RLock()
	u, ok := us.users[name]
	us.mu.RUnlock()
	if !ok {
		// Spend comparable time so a caller cannot tell unknown users apart.
		CheckPassword("pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", password)
		return User{}, ErrBadLogin
	}
	k := sha256.Sum256([]byte(name + "\x00" + password + "\x00" + u.PasswordHash))
	us.mu.RLock()
	t, cached := us.verified[k]
	us.mu.RUnlock()
	if cached && now.Sub(t) < verifiedTTL {
		return u, nil
	}
	if !CheckPassword(u.PasswordHash, password) {
		return User{}, ErrBadLogin
	}
	us.mu.Lock()
	for kk, tt := range us.verified { // keep the cache small
		if now.Sub(tt) >= verifiedTTL {
			delete(us.verified, kk)
		}
	}
	us.verified[k] = now
	us.mu.Unlock()
	return u, nil
}

// Sessions are login sessions kept in memory (a head-end restart logs everybody out).
type Sessions struct {
	mu   sync.Mutex
	idle time.Duration
	m    map[string]*session
}

type session struct {
	user User
	last time.Time
}

// NewSessions returns a session store whose sessions expire after idle without use.
func NewSessions(idle time.Duration) *Sessions {
	return &Sessions{idle: idle, m: map[string]*session{}}
}

// Create starts a session and returns its token (256 random bits, URL-safe).
func (s *Sessions) Create(u User, now time.Time) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, se := range s.m {
		if now.Sub(se.last) > s.idle {
			delete(s.m, t)
		}
	}
	s.m[tok] = &session{user: u, last: now}
	return tok, nil
}

// Lookup returns the session's user and refreshes its idle timer.
func (s *Sessions) Lookup(token string, now time.Time) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[token]
	if !ok {
		return User{}, false
	}
	if now.Sub(se.last) > s.idle {
		delete(s.m, token)
		return User{}, false
	}
	se.last = now
	return se.user, true
}

// Delete ends a session.
func (s *Sessions) Delete(token string) {
	s.mu.Lock()
	delete(s.m, token)
	s.mu.Unlock()
}
