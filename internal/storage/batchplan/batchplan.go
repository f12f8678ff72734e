// Package batchplan is the database-independent half of the SQL storage backends
// (sqlitestore, pgstore): it checks a storage.Batch and prepares its readings for storing
// (normalised, keyed, values encoded, de-duplicated, meters derived from their ids), works out
// the sequence gap, and judges the readings that were not inserted as duplicates,
// completions or conflicts. It also owns the row encoding both schemas share, both ways:
// values as one canonical JSON object, times as Unix milliseconds (UTC).
//
// A backend's StoreBatch is then: New; in one transaction, read the terminal's LastSeq
// (Gap), create Plan.Meters, insert Plan.Unique keeping the keys actually inserted, call
// Plan.Judge with a lookup of what is stored under the other keys (and a locking one, if
// write transactions can run side by side), update the Outcome's completions, record its
// conflicts, update the terminal; commit. StoreReadings is the same without the terminal:
// NewReadings; in one transaction, create Plan.Meters, insert Plan.Unique, call
// Plan.JudgeWith(Covers, ...), update the completions, record the conflicts under the
// source's name; commit.
//
// It also prepares events for AppendEvents and AppendTerminalEvents and decodes them back
// (events.go), and commands and command reports (commands.go).
package batchplan

import (
	"fmt"
	"math"
	"sort"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// Row is one reading ready to store: normalised, keyed and with its values encoded.
type Row struct {
	Key     meterdata.Key
	Reading meterdata.Reading
	Vals    string // canonical JSON object of Reading.Values (meterdata.EncodeValues)
}

// Plan is a batch prepared for storing. Readings sharing a key inside the batch are split:
// the first occurrence goes to Unique, the later ones to Repeats, which Judge then weighs
// against whatever ends up stored under the key (the first occurrence or an older reading).
type Plan struct {
	Unique  []Row             // first occurrence of each key, sorted by key
	Repeats []Row             // later occurrences, in batch order
	Meters  []meterdata.Meter // distinct meters of the batch, sorted by id, described from their ids only
}

// New checks b and prepares its readings.
//
// The batch must have a valid terminal id and 1 <= FirstSeq <= LastSeq <= math.MaxInt64
// (the columns are signed 64-bit). Of the readings contract (meterdata.Reading.Validate) it
// refuses what the store cannot derive from the id or check cheaply in the database: a
// malformed meter id, an unknown kind, no values. Time range and quality bits are left to
// the database's CHECK constraints (see Culprit).
func New(b storage.Batch) (Plan, error) {
	if err := checkBatch(b); err != nil {
		return Plan{}, err
	}
	return newPlan(b.Readings)
}

// MaxSourceLen is the longest source name StoreReadings takes.
const MaxSourceLen = 128

// NewReadings checks the source of a StoreReadings call and prepares its readings as New
// does a batch's.
func NewReadings(source string, rs []meterdata.Reading) (Plan, error) {
	if source == "" || len(source) > MaxSourceLen {
		return Plan{}, fmt.Errorf("source %.140q: want 1 to %d bytes", source, MaxSourceLen)
	}
	return newPlan(rs)
}

// checkBatch checks what the contract states of a batch and what the columns can hold.
func checkBatch(b storage.Batch) error {
	if err := meterdata.ValidateTerminalID(b.Terminal); err != nil {
		return err
	}
	if b.FirstSeq < 1 || b.LastSeq < b.FirstSeq {
		return fmt.Errorf("sequence numbers %d..%d: want 1 <= first <= last", b.FirstSeq, b.LastSeq)
	}
	if b.LastSeq > math.MaxInt64 {
		return fmt.Errorf("last sequence number %d: larger than the largest storable %d", b.LastSeq, int64(math.MaxInt64))
	}
	return nil
}

// newPlan normalises, encodes and de-duplicates the readings.
func newPlan(rs []meterdata.Reading) (Plan, error) {
	var p Plan
	seen := make(map[meterdata.Key]struct{}, len(rs))
	meters := make(map[meterdata.MeterID]meterdata.Meter)
	p.Unique = make([]Row, 0, len(rs))
	for _, r := range rs {
		r = r.Normalize()
		if _, ok := meters[r.Meter]; !ok {
			terminal, bus, address, err := r.Meter.Parts()
			if err != nil {
				return Plan{}, fmt.Errorf("reading %s: %w", Describe(r), err)
			}
			meters[r.Meter] = meterdata.Meter{ID: r.Meter, Terminal: terminal, Bus: bus, Address: address}
		}
		if err := r.Kind.Validate(); err != nil {
			return Plan{}, fmt.Errorf("reading %s: %w", Describe(r), err)
		}
		if len(r.Values) == 0 {
			return Plan{}, fmt.Errorf("reading %s: no values", Describe(r))
		}
		vals, err := meterdata.EncodeValues(r.Values)
		if err != nil {
			return Plan{}, fmt.Errorf("reading %s: %w", Describe(r), err)
		}
		w := Row{Key: r.Key(), Reading: r, Vals: vals}
		if _, dup := seen[w.Key]; dup {
			p.Repeats = append(p.Repeats, w)
			continue
		}
		seen[w.Key] = struct{}{}
		p.Unique = append(p.Unique, w)
	}
	sort.Slice(p.Unique, func(i, j int) bool { return keyLess(p.Unique[i].Key, p.Unique[j].Key) })
	p.Meters = make([]meterdata.Meter, 0, len(meters))
	for _, m := range meters {
		p.Meters = append(p.Meters, m)
	}
	sort.Slice(p.Meters, func(i, j int) bool { return p.Meters[i].ID < p.Meters[j].ID })
	return p, nil
}

func keyLess(a, b meterdata.Key) bool {
	if a.Meter != b.Meter {
		return a.Meter < b.Meter
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.Time < b.Time
}

// Gap returns how many sequence numbers lie between a terminal's stored LastSeq (0 for a
// terminal not yet known, so a first batch starting at 5 has a gap of 4) and firstSeq.
// A batch at or below LastSeq+1 (contiguous, resent or overlapping) has no gap.
func Gap(lastSeq int64, firstSeq uint64) uint64 {
	if firstSeq > uint64(lastSeq)+1 {
		return firstSeq - uint64(lastSeq) - 1
	}
	return 0
}

// Conflict is a reading to record in the conflict log: what is stored under its key and
// what was received.
type Conflict struct {
	Stored     meterdata.Reading
	StoredVals string // canonical JSON of Stored.Values
	Received   Row
}

// Outcome is what judging a plan found.
type Outcome struct {
	Result    storage.BatchResult // Gap left 0
	Conflicts []Conflict          // to append to the conflict log, in judging order
	// Completions are the stored readings to update, as they must be stored afterwards
	// (the union of values, the merged quality): one per key, in key order.
	Completions []Row
}

// Lookup puts into into what is stored under each of keys (a key stored nowhere is left
// out); its error is returned as is.
type Lookup func(keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading) error

// Judge judges a StoreBatch plan, once the backend has inserted Unique and knows which keys
// it inserted, with StoreBatch's duplicate rule meterdata.SameValues; see JudgeWith.
func (p Plan) Judge(inserted map[meterdata.Key]struct{}, lookup, lock Lookup) (Outcome, error) {
	return p.JudgeWith(meterdata.SameValues, inserted, lookup, lock)
}

// Covers reports whether every value of received is stored with the same value: the
// duplicate rule of StoreReadings, whose path may carry a subset of a reading's channels.
// Quality flags are not compared.
func Covers(stored, received meterdata.Reading) bool {
	for k, v := range received.Values {
		if w, ok := stored.Values[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Extends reports whether received carries every stored value with the same value and at
// least one channel more (a strict superset): the completion rule of both StoreBatch and
// StoreReadings. Quality flags are not compared.
func Extends(stored, received meterdata.Reading) bool {
	return len(received.Values) > len(stored.Values) && Covers(received, stored)
}

// valueFlags are the quality flags that qualify a reading's values rather than the way it
// was read: a completion adds the arrival's to the stored reading's.
const valueFlags = meterdata.QualityEstimated | meterdata.QualitySuspect

// Complete returns stored completed by received, which must extend it: received's values
// (the union), stored's quality flags plus received's estimated and suspect flags.
func Complete(stored, received meterdata.Reading) meterdata.Reading {
	out := stored
	out.Values = received.Values
	out.Quality = stored.Quality | received.Quality&valueFlags
	return out
}

// JudgeWith counts what storing the plan did, once the backend has inserted Unique and
// knows which keys it inserted. same(stored, received) is the duplicate rule: StoreBatch
// uses meterdata.SameValues (Judge), StoreReadings Covers.
//
// Every key of Unique not inserted is passed to lookup (in one call, in key order;
// possibly none). Each row not inserted, then each of Repeats in batch order, is judged
// against what is then stored under its key: a duplicate if same holds; else a completion
// if it Extends the stored reading, which is then Complete(stored, row) for the rows after
// it; else a conflict.
//
// lookup may read without locking. lock, if not nil, is called once, with the keys not
// inserted that the first judgement completes (key order; not called if there are none):
// it must lock their rows until the transaction ends and put their latest content into
// into; the plan is then judged again. A key's judgement depends on its own stored reading
// only, so the second judgement completes only keys read under a lock: a completion never
// undoes a concurrent one, and of concurrent calls completing a key alike only the first
// counts it as Completed. A backend whose write transactions run one at a time (SQLite)
// passes nil.
func (p Plan) JudgeWith(same func(stored, received meterdata.Reading) bool, inserted map[meterdata.Key]struct{}, lookup, lock Lookup) (Outcome, error) {
	// What is stored under each key of the batch: the row just inserted or an older one.
	stored := make(map[meterdata.Key]meterdata.Reading, len(p.Unique))
	var missing []meterdata.Key
	for _, u := range p.Unique {
		if _, ok := inserted[u.Key]; ok {
			stored[u.Key] = u.Reading
		} else {
			missing = append(missing, u.Key)
		}
	}
	if err := lookup(missing, stored); err != nil {
		return Outcome{}, err
	}
	out, err := p.judge(same, inserted, stored)
	if err != nil || lock == nil {
		return out, err
	}
	var need []meterdata.Key // in key order, as out.Completions
	for _, c := range out.Completions {
		if _, mine := inserted[c.Key]; !mine {
			need = append(need, c.Key)
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	if err := lock(need, stored); err != nil {
		return Outcome{}, err
	}
	return p.judge(same, inserted, stored)
}

// judge is one pass of JudgeWith over what stored holds; stored is not changed.
func (p Plan) judge(same func(stored, received meterdata.Reading) bool, inserted map[meterdata.Key]struct{}, stored map[meterdata.Key]meterdata.Reading) (Outcome, error) {
	var out Outcome
	completed := make(map[meterdata.Key]Row)
	current := func(k meterdata.Key) (meterdata.Reading, bool) {
		if w, ok := completed[k]; ok {
			return w.Reading, true
		}
		r, ok := stored[k]
		return r, ok
	}
	judge := func(w Row) error {
		old, ok := current(w.Key)
		if !ok {
			return fmt.Errorf("reading %s: neither inserted nor found", Describe(w.Reading))
		}
		switch {
		case same(old, w.Reading):
			out.Result.Duplicates++
		case Extends(old, w.Reading):
			// The row's values are the union: encoded already as w.Vals.
			completed[w.Key] = Row{Key: w.Key, Reading: Complete(old, w.Reading), Vals: w.Vals}
			out.Result.Completed++
		default:
			oldVals, err := meterdata.EncodeValues(old.Values)
			if err != nil {
				return err
			}
			out.Conflicts = append(out.Conflicts, Conflict{Stored: old, StoredVals: oldVals, Received: w})
			out.Result.Conflicts++
		}
		return nil
	}
	for _, u := range p.Unique {
		if _, ok := inserted[u.Key]; ok {
			out.Result.Inserted++
			continue
		}
		if err := judge(u); err != nil {
			return Outcome{}, err
		}
	}
	for _, w := range p.Repeats {
		if err := judge(w); err != nil {
			return Outcome{}, err
		}
	}
	out.Completions = make([]Row, 0, len(completed))
	for _, w := range completed {
		out.Completions = append(out.Completions, w)
	}
	sort.Slice(out.Completions, func(i, j int) bool { return keyLess(out.Completions[i].Key, out.Completions[j].Key) })
	return out, nil
}

// Describe names a reading in errors: "meter M kind K time T".
func Describe(r meterdata.Reading) string {
	return fmt.Sprintf("meter %s kind %s time %s", r.Meter, r.Kind, r.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// Bounds of the readings table's CHECK constraints (meterdata.EarliestTime, LatestTime).
var (
	earliestMilli = meterdata.EarliestTime.UnixMilli()
	latestMilli   = meterdata.LatestTime.UnixMilli()
)

// Culprit names the reading of a failed multi-row insert that breaks one of the readings
// table's CHECK constraints (ts outside EarliestTime..LatestTime, unknown quality bits), or
// else the range of readings the statement carried. rows must not be empty.
func Culprit(rows []Row) string {
	for _, w := range rows {
		if w.Key.Time < earliestMilli || w.Key.Time >= latestMilli || w.Reading.Quality > 7 {
			return "reading " + Describe(w.Reading)
		}
	}
	return fmt.Sprintf("%d readings %s .. %s", len(rows), Describe(rows[0].Reading), Describe(rows[len(rows)-1].Reading))
}
