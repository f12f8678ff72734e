package e2e

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var ps []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// TestTerminalLinksNoHeadEnd keeps the terminal binary small and its attack surface narrow:
// it must not link the broker, storage backends, API, web app or their libraries.
func TestTerminalLinksNoHeadEnd(t *testing.T) {
	forbidden := []string{
		"gridmeter/internal/broker", "gridmeter/internal/storage", "gridmeter/internal/api",
		"gridmeter/internal/webapp", "gridmeter/internal/headend", "gridmeter/internal/ingest",
		"gridmeter/internal/live", "gridmeter/internal/auth", "gridmeter/internal/demo",
		"github.com/mochi-mqtt/", "github.com/jackc/pgx", "github.com/prometheus/client_golang", "net/http/pprof",
	}
	for _, p := range goList(t, "./cmd/terminal") {
		for _, d := range p.Deps {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) && (len(d) == len(f) || d[len(f)] == '/' || strings.HasSuffix(f, "/")) {
					t.Errorf("cmd/terminal depends on %s (forbidden: %s)", d, f)
				}
			}
		}
	}
}

// TestDependencyDirection: protocol and vocabulary packages import nothing of ours but the
// shared domain types, and only the transport package imports an MQTT client library.
func TestDependencyDirection(t *testing.T) {
	leaf := map[string]bool{
		"gridmeter/internal/meterdata": true,
		"gridmeter/internal/message":   true,
		"gridmeter/internal/dlt645":    true,
	}
	for _, p := range goList(t, "./...") {
		for _, imp := range p.Imports {
			if leaf[p.ImportPath] && strings.HasPrefix(imp, "gridmeter/") && imp != "gridmeter/internal/meterdata" {
				t.Errorf("%s imports %s: protocol packages may import only meterdata", p.ImportPath, imp)
			}
			if strings.HasPrefix(imp, "github.com/eclipse/paho") && p.ImportPath != "gridmeter/internal/transport" {
				t.Errorf("%s imports %s: only internal/transport may use the MQTT client library", p.ImportPath, imp)
			}
			if strings.HasPrefix(imp, "github.com/mochi-mqtt/") && p.ImportPath != "gridmeter/internal/broker" {
				t.Errorf("%s imports %s: only internal/broker may use the broker library", p.ImportPath, imp)
			}
			// Two exceptions: the chaos harness observes the system from outside through the REST
			// API, as an operator would; telemetry is the terminal's read-only /metrics endpoint.
			if imp == "net/http" && strings.HasPrefix(p.ImportPath, "gridmeter/internal/") &&
				!map[string]bool{"gridmeter/internal/api": true, "gridmeter/internal/webapp": true, "gridmeter/internal/headend": true,
					"gridmeter/internal/chaos": true, "gridmeter/internal/telemetry": true}[p.ImportPath] {
				t.Errorf("%s imports net/http: only the API layer (api, webapp, headend wiring) knows HTTP", p.ImportPath)
			}
		}
	}
}
