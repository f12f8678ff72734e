package modbusmap

import (
	"cmp"
	"fmt"
	"slices"
)

// Request is one read of a reading plan: Count registers of Table from Start.
type Request struct {
	Table Table
	Start uint16
	Count uint16
}

// String prints the request as errors name it: "input 0x0000+18".
func (q Request) String() string { return fmt.Sprintf("%s %#04x+%d", q.Table, q.Start, q.Count) }

// Plan returns the reads that fetch every register of the map in as few requests as the
// map allows: holding registers first, then input registers, each in address order. Two
// values share a request when the unmapped registers between them number at most MaxGap
// and the request stays within MaxRegisters. The map must be valid.
//
// Greedy grouping in address order is optimal here: a request can always extend to the
// next value if both limits allow, and splitting earlier never saves a request later.
func (m Map) Plan() []Request {
	regs := slices.Clone(m.Registers)
	slices.SortFunc(regs, func(a, b Register) int {
		return cmp.Or(tableOrder(a.Table, b.Table), cmp.Compare(a.Address, b.Address))
	})
	limit := m.maxRegisters()
	var plan []Request
	for _, r := range regs {
		if n := len(plan); n > 0 {
			last := &plan[n-1]
			lastEnd := int(last.Start) + int(last.Count) // exclusive
			gap := int(r.Address) - lastEnd
			if last.Table == r.Table && gap <= m.MaxGap && r.end()+1-int(last.Start) <= limit {
				last.Count = uint16(r.end() + 1 - int(last.Start))
				continue
			}
		}
		plan = append(plan, Request{Table: r.Table, Start: r.Address, Count: uint16(r.words())})
	}
	return plan
}
