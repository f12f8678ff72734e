package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name     string   `yaml:"name"`
	Interval Duration `yaml:"interval"`
	Password Secret   `yaml:"password"`
}

func (s *sample) Validate() error {
	if s.Name == "" {
		return errors.New("name: empty")
	}
	return nil
}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	s := sample{Interval: Duration(time.Minute)}
	if err := Load(write(t, "name: x\npassword: hunter2\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || s.Interval.D() != time.Minute || s.Password.Value() != "hunter2" {
		t.Fatalf("loaded %+v (defaults must survive absent keys)", s)
	}
	tests := []struct{ name, body, want string }{
		{"unknown key with its line", "name: x\nnmae: y\n", "line 2: field nmae not found"},
		{"bad duration with its line", "name: x\ninterval: soon\n", `line 2: duration "soon"`},
		{"validation names the field", "interval: 5s\n", "name: empty"},
		{"empty", "", "empty configuration"},
		{"two documents", "name: x\n---\nname: y\n", "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sample
			err := Load(write(t, tt.body), &s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestSecretRedacts(t *testing.T) {
	s := sample{Name: "x", Password: "hunter2"}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), s.Password.String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret printed: %s", out)
		}
	}
}
