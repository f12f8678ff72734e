package main

import (
	"errors"
	"fmt"
	"strings"

	"gridmeter/internal/iec102"
)

// formatFrame prints a frame, its control field and, for user data, its ASDU object by
// object.
func formatFrame(f iec102.Frame) string {
	var b strings.Builder
	raw, _ := f.Encode()
	fmt.Fprintf(&b, "frame  % X\n", raw)
	switch f.Format {
	case iec102.FormatSingleChar:
		b.WriteString("       E5: single character (ack / no data)")
		return b.String()
	case iec102.FormatFixed:
		fmt.Fprintf(&b, "       fixed, %s, link address %d", f.Control, f.Address)
		return b.String()
	}
	fmt.Fprintf(&b, "       variable, %s, link address %d\n", f.Control, f.Address)
	a, err := f.DecodeASDU()
	if err != nil && !errors.Is(err, iec102.ErrUnknownType) {
		fmt.Fprintf(&b, "asdu   % X\n       malformed: %v", f.ASDU, err)
		return b.String()
	}
	fmt.Fprintf(&b, "asdu   %s", a.DUI)
	if err != nil {
		fmt.Fprintf(&b, "\n       %v; objects % X", err, f.ASDU[6:])
		return b.String()
	}
	for _, line := range formatInfo(a.Info) {
		b.WriteString("\n       ")
		b.WriteString(line)
	}
	return b.String()
}

// formatInfo prints information objects one per line.
func formatInfo(info iec102.Info) []string {
	switch v := info.(type) {
	case nil:
		return nil
	case iec102.IntegratedTotals:
		return []string{formatTotals(v)}
	case iec102.SinglePoints:
		out := make([]string, len(v))
		for i, p := range v {
			out[i] = fmt.Sprintf("event %s address %d code %d SPI %t", p.Time, p.Address, p.Code, p.Value)
		}
		return out
	case iec102.BillingRecords:
		out := make([]string, len(v))
		for i, r := range v {
			out[i] = fmt.Sprintf("billing object %d %s … %s: active %d (+%d) %s, inductive %d (+%d) %s, capacitive %d (+%d) %s, max demand %d at %s %s, excess %d %s",
				r.Address, r.Start, r.End, r.Active.Absolute, r.Active.Incremental, r.Active.Quality,
				r.Inductive.Absolute, r.Inductive.Incremental, r.Inductive.Quality,
				r.Capacitive.Absolute, r.Capacitive.Incremental, r.Capacitive.Quality,
				r.MaxDemand.Value, r.MaxDemandTime, r.MaxDemand.Quality, r.Excess.Value, r.Excess.Quality)
		}
		return out
	case iec102.InstantValues:
		var out []string
		for _, g := range v {
			switch g := g.(type) {
			case iec102.InstantTotals:
				out = append(out, "group 192 "+formatInstantTotals(g))
			case iec102.InstantPowers:
				out = append(out, fmt.Sprintf("group 193 at %s: total %s; phases %s, %s, %s", g.Time,
					formatPower(g.Total), formatPower(g.Phases[0]), formatPower(g.Phases[1]), formatPower(g.Phases[2])))
			case iec102.InstantPhases:
				s := fmt.Sprintf("group 194 at %s:", g.Time)
				for k, p := range g.Phases {
					s += fmt.Sprintf(" L%d %d.%d A %d.%d V", k+1, p.Current/10, p.Current%10, p.Voltage/10, p.Voltage%10)
					if p.Invalid() {
						s += " (invalid)"
					}
				}
				out = append(out, s)
			}
		}
		return out
	case iec102.ProductInfo:
		return []string{fmt.Sprintf("manufacturer %d, product %d, protocol specification %02d/%d", v.Manufacturer, v.Product, v.SpecMonth(), v.SpecYear())}
	case iec102.TotalsRequest:
		return []string{fmt.Sprintf("objects %d … %d, periods ending %s … %s", v.First, v.Last, v.From, v.To)}
	case iec102.TimeRange:
		return []string{fmt.Sprintf("from %s to %s", v.From, v.To)}
	case iec102.BlockRequest:
		return []string{fmt.Sprintf("block %d, from %s to %s", v.Block, v.From, v.To)}
	case iec102.TimeB:
		return []string{"time " + v.String()}
	}
	return []string{fmt.Sprintf("%v", info)}
}

// formatTotals prints one period of integrated totals.
func formatTotals(it iec102.IntegratedTotals) string {
	var b strings.Builder
	b.WriteString(it.End.String())
	for _, t := range it.Totals {
		fmt.Fprintf(&b, "  %d:%d", t.Address, t.Value)
		if t.Quality != 0 {
			fmt.Fprintf(&b, " %s", t.Quality)
		}
	}
	return b.String()
}

func formatInstantTotals(t iec102.InstantTotals) string {
	return fmt.Sprintf("at %s: A+ %d, A- %d, R1 %d, R2 %d, R3 %d, R4 %d",
		t.Time, t.ActiveImport, t.ActiveExport, t.ReactiveQ1, t.ReactiveQ2, t.ReactiveQ3, t.ReactiveQ4)
}

func formatPower(p iec102.PowerReading) string {
	s := fmt.Sprintf("P %d Q %d PF %d.%03d", p.Active, p.Reactive, p.PowerFactor/1000, p.PowerFactor%1000)
	if p.Exporting() {
		s += " export"
	}
	if p.Invalid() {
		s += " (invalid)"
	}
	return s
}
