package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/dlt645"
)

// TestRun starts the command in-process, reads the ready line, reads a meter through it
// and stops it as a signal would.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-listen", "127.0.0.1:0", "-meters", "3", "-first-address", "000000000007", "-seed", "2"}, pw, io.Discard)
		pw.Close()
	}()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the ready line: %v", err)
	}
	const prefix, suffix = "metersim: dlt645 listening on ", " with 3 meters\n"
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, suffix) {
		t.Fatalf("ready line %q", line)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(line, prefix), suffix)
	go io.Copy(io.Discard, pr)

	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	c, err := dlt645.DialTCP(dctx, addr, dlt645.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.ReadValues(dctx, dlt645.MustParseAddress("000000000009"), dlt645.DIForwardActiveBlock)
	if err != nil {
		t.Fatal(err)
	}
	if v["e_imp"] <= 0 {
		t.Errorf("e_imp = %d", v["e_imp"])
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run = %v, want nil on a clean stop", err)
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-meters", "0"},
		{"-first-address", "x"},
		{"-listen", "256.0.0.1:bad"},
		{"extra"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) = nil", args)
		}
	}
}
