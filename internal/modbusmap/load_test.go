package modbusmap

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestLoadGood loads every testdata/*.good.yaml: each must load and validate, and a map
// written back to YAML must load to the same map.
func TestLoadGood(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			m, err := LoadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Load(strings.NewReader(string(out)))
			if err != nil {
				t.Fatalf("reload: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, m) {
				t.Errorf("reloaded map differs:\n got %+v\nwant %+v", back, m)
			}
		})
	}
}

// TestLoadBad loads every testdata/*.bad.yaml; its first line, "# want: <text>", is a
// part of the error it must give.
func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := wantLine(t, file)
			_, err := LoadFile(file)
			if err == nil {
				t.Fatalf("loaded, want an error containing %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\ndoes not contain %q", err, want)
			}
		})
	}
}

func wantLine(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatalf("%s: empty", file)
	}
	want, ok := strings.CutPrefix(sc.Text(), "# want: ")
	if !ok || want == "" {
		t.Fatalf("%s: first line must be \"# want: <part of the error>\"", file)
	}
	return want
}

func TestLoadScales(t *testing.T) {
	m, err := LoadFile("testdata/scales.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Scale{
		"u_a": {100, 1}, "u_b": {100, 1}, "u_c": {100, 1}, "f": {10, 1},
		"e_imp": {1, 10}, "e_exp": {1, 10}, "i_a": {1, 1}, "p": {1_000_000, 1},
		"q": {-1000, 1}, "pf": {5000, 1},
	}
	for _, r := range m.Registers {
		if r.Scale != want[r.Channel] {
			t.Errorf("%s: scale %+v, want %+v", r.Channel, r.Scale, want[r.Channel])
		}
	}
}

func TestLoadLimits(t *testing.T) {
	big := strings.Repeat("# padding\n", maxConfigBytes/10+1)
	if _, err := Load(strings.NewReader(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized map: %v", err)
	}
	if _, err := LoadFile("testdata/no-such-file.yaml"); err == nil {
		t.Error("missing file loaded")
	}
}

func TestParseScale(t *testing.T) {
	good := map[string]Scale{
		"1": {1, 1}, "1000": {1000, 1}, "-1": {-1, 1}, "+10": {10, 1},
		"1/10": {1, 10}, "10/100": {1, 10}, "-3/6": {-1, 2}, "010/3": {10, 3},
		"0.001": {1, 1000}, ".5": {1, 2}, "2.": {2, 1}, "1e3": {1000, 1}, "1E-3": {1, 1000},
		"2.5e-1": {1, 4}, "1000000000000000000": {1e18, 1}, "1e-18": {1, 1e18},
	}
	for in, want := range good {
		got, err := ParseScale(in)
		if err != nil || got != want {
			t.Errorf("ParseScale(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, err := ParseScale(got.String()); err != nil || again != got {
			t.Errorf("ParseScale(%q.String() = %q) = %+v, %v", in, got.String(), again, err)
		}
	}
	for _, in := range []string{"", " 1", "0", "0/5", "0.0", "1/0", "x", "1/-2", "0x10", "0b1", "1_000",
		"1e100", "1e19", "1/3e2", "1.5/2", "NaN", "inf", "1/1000000000000000001", "1e-19"} {
		if got, err := ParseScale(in); err == nil {
			t.Errorf("ParseScale(%q) = %+v, want an error", in, got)
		}
	}
}

func TestRatioPow10(t *testing.T) {
	if got := Ratio(10, -100); got != (Scale{-1, 10}) {
		t.Errorf("Ratio(10, -100) = %+v", got)
	}
	if got := Pow10(-3); got != (Scale{1, 1000}) {
		t.Errorf("Pow10(-3) = %+v", got)
	}
	if got := Pow10(0); got != (Scale{1, 1}) {
		t.Errorf("Pow10(0) = %+v", got)
	}
	if got := (Scale{}).String(); got != "1" {
		t.Errorf("zero Scale prints %q, want 1", got)
	}
}
