// Package storagetest is the contract suite every storage.Store backend must pass. A
// backend's test calls Run with a function opening a fresh, empty store; each subtest opens
// its own store, so subtests share nothing and a backend may isolate them however it likes
// (a new file, a new PostgreSQL schema).
//
// The suite checks the contract of package storage as written in its doc comments, plus the
// points the comments leave open, which both backends settle the same way:
//
//   - a batch must have 1 <= FirstSeq <= LastSeq and a valid terminal id, otherwise it is
//     refused and nothing is stored;
//   - the gap of a terminal's first batch counts from 0 (FirstSeq 5 on a new terminal is a gap
//     of 4); every stored batch counts in Batches, resent ones included;
//   - a reading repeated inside one batch is judged against the first occurrence;
//   - every conflicting arrival is logged, resent ones included;
//   - a zero ReadingQuery.From or To leaves that end of the range open; Limit 0 (and a
//     Conflicts limit of 0) means 10,000;
//   - LatestReading with kind "" means any kind; CountReadings of an unknown meter is 0;
//   - UpsertMeters refuses the whole call if one descriptor fails meterdata.Meter.Validate;
//   - a terminal status older (by At) than the last one applied does not change state and
//     software; LastSeen never goes back.
//
// Readings that break meterdata.Reading.Validate are refused with the whole batch, either by
// the backend's checks or by the database's constraints; the suite does not care which.
//
// The concurrency test is meaningful only under the race detector (go test -race).
package storagetest
