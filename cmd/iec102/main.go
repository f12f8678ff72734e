// Command iec102 is the field engineer's IEC 60870-5-102 tool: it reads one outstation by
// hand and decodes frames.
//
//	iec102 read -addr 127.0.0.1:20102 -link 1 -point 1 -password 1
//	iec102 read -addr 10.1.2.3:2000 -link 1 -point 1 -password 7 -tz Europe/Madrid \
//	    -from 2026-05-01T01:00 -to 2026-05-02T00:00 -record 11
//	iec102 decode 68 0D 0D 68 73 01 00 B7 01 06 01 00 00 01 00 00 00 34 16
//
// read runs one session: link start-up, C_AC_NA_2, and prints the identity (C_RD_NA_2),
// the clock and its drift (C_TI_NA_2), the current totals (instant values, group 192)
// and, with -from, the integrated totals of a record address for a range (C_CI_NT_2, or
// C_CI_NU_2 with -increments), then ends the session (C_FS_NA_2). -v prints every frame.
// decode prints each frame of a hex string (spaces and colons allowed) and its ASDU.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // -tz Europe/Madrid on hosts without a zoneinfo database

	"gridmeter/internal/iec102"
	"gridmeter/internal/iec102/master"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "iec102:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  iec102 read -addr host:port [-link 1] [-point 1] [-password 1] [-from T -to T] [flags]
  iec102 decode <hex>…
run "iec102 read -h" for the flags`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "read":
		return read(ctx, args[1:], stdout, stderr)
	case "decode":
		return decode(args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func read(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("iec102 read", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "outstation host:port (required)")
	link := fs.Uint("link", 1, "link address")
	point := fs.Uint("point", 1, "measuring point (common address)")
	password := fs.Uint("password", 1, "measuring point password")
	from := fs.String("from", "", "first period end of a range read, 2006-01-02T15:04 in -tz (or RFC 3339)")
	to := fs.String("to", "", "last period end of the range (default: -from)")
	record := fs.Uint("record", uint(iec102.RecordHourly), "record address of the range read: 11 hourly, 12 quarter-hourly, 21 daily")
	increments := fs.Bool("increments", false, "read increments per period (C_CI_NU_2) instead of registers (C_CI_NT_2)")
	tz := fs.String("tz", "UTC", "time zone of the outstation's time tags (REE meters: Europe/Madrid)")
	timeout := fs.Duration("timeout", master.DefaultTimeout, "answer timeout per frame")
	retries := fs.Int("retries", 0, "repetitions of an unanswered frame (0: the default 3, negative: none)")
	verbose := fs.Bool("v", false, "print every frame sent and received")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *addr == "":
		return errors.New("-addr is required")
	case *link > 0xFFFF || *point > 0xFFFF || *password > 0xFFFFFFFF || *record > 0xFF:
		return errors.New("-link and -point take 0–65535, -password 0–4294967295, -record 0–255")
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fmt.Errorf("-tz: %w", err)
	}
	var rangeFrom, rangeTo time.Time
	if *from != "" {
		if rangeFrom, err = parseTime(*from, loc); err != nil {
			return fmt.Errorf("-from: %w", err)
		}
		rangeTo = rangeFrom
		if *to != "" {
			if rangeTo, err = parseTime(*to, loc); err != nil {
				return fmt.Errorf("-to: %w", err)
			}
		}
	} else if *to != "" {
		return errors.New("-to needs -from")
	}

	opt := master.ClientOptions{Timeout: *timeout, Retries: *retries, Location: loc}
	if *verbose {
		opt.Trace = func(sent bool, f iec102.Frame) {
			dir := "<-"
			if sent {
				dir = "->"
			}
			b, _ := f.Encode()
			fmt.Fprintf(stderr, "%s % X\n", dir, b)
		}
	}
	c, err := master.Dial(ctx, *addr, uint16(*link), opt)
	if err != nil {
		return err
	}
	defer c.Close()
	pt := uint16(*point)
	if err := c.StartLink(ctx); err != nil {
		return err
	}
	if err := c.Authenticate(ctx, pt, uint32(*password)); err != nil {
		return err
	}
	sessionErr := session(ctx, c, pt, iec102.RecordAddress(*record), *increments, rangeFrom, rangeTo, loc, stdout)
	if err := c.EndSession(ctx, pt); err != nil && sessionErr == nil {
		return err
	}
	return sessionErr
}

// session prints the reads of one open session.
func session(ctx context.Context, c *master.Client, pt uint16, rad iec102.RecordAddress, increments bool, from, to time.Time, loc *time.Location, w io.Writer) error {
	pi, err := c.Identity(ctx, pt)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "identity       manufacturer %d, product %d, protocol specification %02d/%d\n",
		pi.Manufacturer, pi.Product, pi.SpecMonth(), pi.SpecYear())
	clk, err := c.Clock(ctx, pt)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "time           %s (%s; drift %+.3fs, round trip %s)\n", clk.Time.In(loc).Format("2006-01-02 15:04:05.000 MST"),
		clk.Tag, clk.Drift.Seconds(), clk.RoundTrip.Round(time.Microsecond))
	ct, err := c.CurrentTotals(ctx, pt)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "current totals %s\n", formatInstantTotals(ct))
	if from.IsZero() {
		return nil
	}
	read, what := c.ReadTotals, "registers"
	if increments {
		read, what = c.ReadIncrements, "increments"
	}
	its, err := read(ctx, pt, rad, 1, 8, from, to)
	fmt.Fprintf(w, "%s of record %s, periods ending %s … %s: %d\n", what, rad,
		from.In(loc).Format("2006-01-02 15:04"), to.In(loc).Format("2006-01-02 15:04"), len(its))
	for _, it := range its {
		fmt.Fprintf(w, "  %s\n", formatTotals(it))
	}
	return err
}

// parseTime reads 2006-01-02T15:04 (or with seconds) in loc, or RFC 3339.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want 2006-01-02T15:04 or RFC 3339", s)
}

func decode(args []string, w io.Writer) error {
	s := strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "", "0x", "", ",", "").Replace(strings.Join(args, ""))
	if s == "" {
		return errors.New("decode: no hex given")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	var d iec102.Decoder
	d.Write(b)
	n := 0
	for d.Buffered() > 0 {
		f, err := d.Next()
		if errors.Is(err, iec102.ErrShortFrame) {
			if d.Buffered() > 0 {
				fmt.Fprintf(w, "incomplete frame: %d octets left\n", d.Buffered())
			}
			break
		}
		if err != nil {
			fmt.Fprintf(w, "malformed: %v\n", err)
			continue
		}
		n++
		fmt.Fprintln(w, formatFrame(f))
	}
	if skipped := d.Discarded(); skipped > 0 {
		fmt.Fprintf(w, "%d octets discarded\n", skipped)
	}
	if n == 0 {
		return errors.New("decode: no frame found")
	}
	return nil
}
