// Package batchplan is the database-independent half of the SQL storage backends
// (sqlitestore, pgstore): it checks a storage.Batch and prepares its readings for storing
// (normalised, keyed, values encoded, de-duplicated, meters derived from their ids), works out
// the sequence gap, and judges the readings that were not inserted as duplicates or
// conflicts. It also owns the row encoding both schemas share, both ways: values as one
// canonical JSON object, times as Unix milliseconds (UTC).
//
// A backend's StoreBatch is then: New; in one transaction, read the terminal's LastSeq
// (Gap), create Plan.Meters, insert Plan.Unique keeping the keys actually inserted, call
// Plan.Judge with a lookup of what is stored under the other keys, record the conflicts,
// update the terminal; commit. StoreReadings is the same without the terminal: NewReadings;
// in one transaction, create Plan.Meters, insert Plan.Unique, call Plan.JudgeWith(Covers,
// ...), record the conflicts under the source's name; commit.
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

// Judge counts what storing the plan did, once the backend has inserted Unique and knows
// which keys it inserted. Every other key of Unique is passed to lookup (in one call, in
// key order; possibly none), which must put into the map what is stored under it; lookup's
// error is returned as is. Each row not inserted, then each of Repeats in batch order, is a
// duplicate if meterdata.SameValues holds against the stored reading (quality flags are not
// compared), else a conflict, returned in that order for the log. The result's Gap is left 0.
func (p Plan) Judge(inserted map[meterdata.Key]struct{}, lookup func(keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading) error) (storage.BatchResult, []Conflict, error) {
	return p.JudgeWith(meterdata.SameValues, inserted, lookup)
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

// JudgeWith is Judge with another duplicate rule: same(stored, received) reports whether
// a reading not inserted is a duplicate of what is stored under its key. StoreBatch uses
// meterdata.SameValues (Judge), StoreReadings Covers.
func (p Plan) JudgeWith(same func(stored, received meterdata.Reading) bool, inserted map[meterdata.Key]struct{}, lookup func(keys []meterdata.Key, into map[meterdata.Key]meterdata.Reading) error) (storage.BatchResult, []Conflict, error) {
	var res storage.BatchResult
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
		return res, nil, err
	}

	var conflicts []Conflict
	judge := func(w Row) error {
		old, ok := stored[w.Key]
		if !ok {
			return fmt.Errorf("reading %s: neither inserted nor found", Describe(w.Reading))
		}
		if same(old, w.Reading) {
			res.Duplicates++
			return nil
		}
		oldVals, err := meterdata.EncodeValues(old.Values)
		if err != nil {
			return err
		}
		conflicts = append(conflicts, Conflict{Stored: old, StoredVals: oldVals, Received: w})
		res.Conflicts++
		return nil
	}
	for _, u := range p.Unique {
		if _, ok := inserted[u.Key]; ok {
			res.Inserted++
			continue
		}
		if err := judge(u); err != nil {
			return res, nil, err
		}
	}
	for _, w := range p.Repeats {
		if err := judge(w); err != nil {
			return res, nil, err
		}
	}
	return res, conflicts, nil
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
