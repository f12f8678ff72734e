package batchplan

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
)

// DecodeValues parses a stored values object.
func DecodeValues(s string) (map[string]int64, error) {
	var v map[string]int64
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode values %.40q: %w", s, err)
	}
	return v, nil
}

// FromMilli turns stored Unix milliseconds back into a UTC time.
func FromMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// ceilMilli returns t in Unix milliseconds rounded up, so that comparing whole-millisecond
// timestamps with it keeps the meaning of comparing with t itself.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli() // floor: UnixMilli adds the (non-negative) sub-second part rounded down
	if !t.Equal(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// TimeBounds returns the query's [from, to) range in Unix ms; a zero From or To is unbounded.
func TimeBounds(q storage.ReadingQuery) (from, to int64) {
	return bounds(q.From, q.To)
}

// bounds turns a [from, to) time range into Unix ms; a zero end is unbounded.
func bounds(fromT, toT time.Time) (from, to int64) {
	from, to = math.MinInt64, math.MaxInt64
	if !fromT.IsZero() {
		from = ceilMilli(fromT)
	}
	if !toT.IsZero() {
		to = ceilMilli(toT)
	}
	return from, to
}

// DecodeReading rebuilds a reading from the columns of a readings row.
func DecodeReading(meter, kind string, ts int64, quality meterdata.Quality, vals string) (meterdata.Reading, error) {
	v, err := DecodeValues(vals)
	if err != nil {
		return meterdata.Reading{}, fmt.Errorf("meter %s kind %s ts %d: %w", meter, kind, ts, err)
	}
	return meterdata.Reading{
		Meter: meterdata.MeterID(meter), Kind: meterdata.Kind(kind), Time: FromMilli(ts),
		Values: v, Quality: quality,
	}, nil
}

// DecodeConflict rebuilds a conflict from the columns of a conflicts row, in the table's
// order: the key, the stored then the received quality and values, the arrival time.
func DecodeConflict(meter, kind string, ts int64, storedQ meterdata.Quality, storedVals string, receivedQ meterdata.Quality, receivedVals string, at int64) (storage.Conflict, error) {
	sv, err := DecodeValues(storedVals)
	if err != nil {
		return storage.Conflict{}, fmt.Errorf("stored: %w", err)
	}
	rv, err := DecodeValues(receivedVals)
	if err != nil {
		return storage.Conflict{}, fmt.Errorf("received: %w", err)
	}
	base := meterdata.Reading{Meter: meterdata.MeterID(meter), Kind: meterdata.Kind(kind), Time: FromMilli(ts)}
	c := storage.Conflict{Stored: base, Received: base, At: FromMilli(at)}
	c.Stored.Values, c.Stored.Quality = sv, storedQ
	c.Received.Values, c.Received.Quality = rv, receivedQ
	return c, nil
}
