package pgstore

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// row is one reading ready to store: normalised, keyed and with its values encoded.
type row struct {
	key  meterdata.Key
	r    meterdata.Reading
	vals string // canonical JSON object of r.Values
}

// plan is a batch prepared for storing. Readings sharing a key inside the batch are split:
// the first occurrence goes to unique, the later ones to repeats, which are then judged
// against whatever ends up stored under the key (the first occurrence or an older reading).
type plan struct {
	unique  []row             // first occurrence of each key, sorted by key
	repeats []row             // later occurrences, in batch order
	meters  []meterdata.Meter // distinct meters of the batch, sorted by id
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

// newPlan normalises, encodes and de-duplicates the readings. It refuses what the readings
// contract (meterdata.Reading.Validate) rules out and the store cannot derive from the id or
// check cheaply in the database: a malformed meter id, an unknown kind, no values. Time range
// and quality bits are left to the database's CHECK constraints.
func newPlan(rs []meterdata.Reading) (plan, error) {
	var p plan
	seen := make(map[meterdata.Key]struct{}, len(rs))
	meters := make(map[meterdata.MeterID]meterdata.Meter)
	p.unique = make([]row, 0, len(rs))
	for _, r := range rs {
		r = r.Normalize()
		if _, ok := meters[r.Meter]; !ok {
			terminal, bus, address, err := r.Meter.Parts()
			if err != nil {
				return plan{}, fmt.Errorf("reading %s: %w", describe(r), err)
			}
			meters[r.Meter] = meterdata.Meter{ID: r.Meter, Terminal: terminal, Bus: bus, Address: address}
		}
		if err := r.Kind.Validate(); err != nil {
			return plan{}, fmt.Errorf("reading %s: %w", describe(r), err)
		}
		if len(r.Values) == 0 {
			return plan{}, fmt.Errorf("reading %s: no values", describe(r))
		}
		vals, err := encodeValues(r.Values)
		if err != nil {
			return plan{}, fmt.Errorf("reading %s: %w", describe(r), err)
		}
		w := row{key: r.Key(), r: r, vals: vals}
		if _, dup := seen[w.key]; dup {
			p.repeats = append(p.repeats, w)
			continue
		}
		seen[w.key] = struct{}{}
		p.unique = append(p.unique, w)
	}
	sort.Slice(p.unique, func(i, j int) bool { return keyLess(p.unique[i].key, p.unique[j].key) })
	p.meters = make([]meterdata.Meter, 0, len(meters))
	for _, m := range meters {
		p.meters = append(p.meters, m)
	}
	sort.Slice(p.meters, func(i, j int) bool { return p.meters[i].ID < p.meters[j].ID })
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

// describe names a reading in errors: "meter M kind K time T".
func describe(r meterdata.Reading) string {
	return fmt.Sprintf("meter %s kind %s time %s", r.Meter, r.Kind, r.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// encodeValues returns the canonical JSON of a values map: keys sorted, no spaces, exactly
// what encoding/json produces. Channel names are plain ASCII, so the common case is written
// directly (encoding/json took a quarter of SQLite StoreBatch's CPU time); anything else goes
// through encoding/json.
func encodeValues(v map[string]int64) (string, error) {
	names := make([]string, 0, len(v))
	plain := true
	for k := range v {
		names = append(names, k)
		plain = plain && plainName(k)
	}
	if plain {
		sort.Strings(names)
		b := make([]byte, 0, 2+len(v)*24)
		b = append(b, '{')
		for i, k := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, k...)
			b = append(b, '"', ':')
			b = strconv.AppendInt(b, v[k], 10)
		}
		return string(append(b, '}')), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode values: %w", err)
	}
	return string(b), nil
}

// plainName reports whether a key needs no JSON escaping ([A-Za-z0-9_-]+).
func plainName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// decodeValues parses a stored values object.
func decodeValues(s string) (map[string]int64, error) {
	var v map[string]int64
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode values %.40q: %w", s, err)
	}
	return v, nil
}

// fromMilli turns stored Unix milliseconds back into a UTC time.
func fromMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// ceilMilli returns t in Unix milliseconds rounded up, so that comparing whole-millisecond
// timestamps with it keeps the meaning of comparing with t itself.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli() // floor: UnixMilli adds the (non-negative) sub-second part rounded down
	if !t.Equal(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// timeBounds returns the query's [from, to) range in Unix ms; a zero From or To is unbounded.
func timeBounds(q storage.ReadingQuery) (from, to int64) {
	from, to = math.MinInt64, math.MaxInt64
	if !q.From.IsZero() {
		from = ceilMilli(q.From)
	}
	if !q.To.IsZero() {
		to = ceilMilli(q.To)
	}
	return from, to
}

// Bounds of the readings table's CHECK constraints (meterdata.EarliestTime, LatestTime).
var (
	earliestMilli = meterdata.EarliestTime.UnixMilli()
	latestMilli   = meterdata.LatestTime.UnixMilli()
)

// culprit names the reading of a failed multi-row insert that breaks one of the table's
// CHECK constraints, or else the range of readings the statement carried.
func culprit(chunk []row) string {
	for _, w := range chunk {
		if w.key.Time < earliestMilli || w.key.Time >= latestMilli || w.r.Quality > 7 {
			return "reading " + describe(w.r)
		}
	}
	return fmt.Sprintf("%d readings %s .. %s", len(chunk), describe(chunk[0].r), describe(chunk[len(chunk)-1].r))
}
