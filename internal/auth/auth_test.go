package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$1000$") {
		t.Fatalf("hash format %q", h)
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct horsE") || CheckPassword(h, "") {
		t.Fatal("CheckPassword accepts the wrong password or refuses the right one")
	}
	h2, _ := HashPassword("correct horse", 1000)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$10$AAAAAAAAAAA$AAAA", "md5$1000$x$y"} {
		if CheckPassword(bad, "x") {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

func TestUsersAndRoles(t *testing.T) {
	h, _ := HashPassword("pw", 1000)
	if _, err := NewUsers([]User{{Name: "a", Role: "root", PasswordHash: h}}); err == nil || !strings.Contains(err.Error(), `role "root"`) {
		t.Fatalf("bad role: %v", err)
	}
	if _, err := NewUsers([]User{{Name: "a", Role: RoleAdmin, PasswordHash: h}, {Name: "a", Role: RoleViewer, PasswordHash: h}}); err == nil {
		t.Fatal("duplicate user accepted")
	}
	us, err := NewUsers([]User{{Name: "op", Role: RoleOperator, PasswordHash: h}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	u, err := us.Authenticate("op", "pw", now)
	if err != nil || u.Role != RoleOperator {
		t.Fatalf("authenticate: %+v %v", u, err)
	}
	if _, err := us.Authenticate("op", "nope", now); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := us.Authenticate("ghost", "pw", now); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("unknown user: %v", err)
	}
	if !RoleOperator.Allows(RoleViewer) || RoleOperator.Allows(RoleAdmin) || Role("x").Allows(RoleViewer) {
		t.Fatal("role order wrong")
	}
}

func TestSessionsExpireWhenIdle(t *testing.T) {
	s := NewSessions(time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, err := s.Create(User{Name: "a", Role: RoleViewer}, t0)
	if err != nil || len(tok) < 40 {
		t.Fatalf("token %q %v", tok, err)
	}
	if _, ok := s.Lookup(tok, t0.Add(50*time.Second)); !ok {
		t.Fatal("session gone before its idle time")
	}
	if _, ok := s.Lookup(tok, t0.Add(100*time.Second)); !ok {
		t.Fatal("use did not refresh the idle timer")
	}
	if _, ok := s.Lookup(tok, t0.Add(161*time.Second)); ok {
		t.Fatal("idle session still valid")
	}
	tok2, _ := s.Create(User{Name: "b"}, t0)
	s.Delete(tok2)
	if _, ok := s.Lookup(tok2, t0); ok {
		t.Fatal("deleted session still valid")
	}
}
