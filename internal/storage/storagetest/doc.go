// Package storagetest is the contract suite every storage.Store backend must pass. A
// backend's test calls Run with a function opening a fresh, empty store; each subtest opens
// its own store, so subtests share nothing and a backend may isolate them however it likes
// (a new file, a new PostgreSQL schema). CheckClock and BenchStoreBatch take a store the
// backend opened itself, with its own options (a fixed clock; a bench configuration), as does
// BenchCommands.
//
// The suite checks the contract of package storage as its doc comments state it, the
// points both backends once settled alike included (batch sequence checks, the first
// batch's gap, resent batches and conflicts counted and logged again, open query ends and
// DefaultLimit, kind "" in LatestReading, unknown meters, UpsertMeters refused whole, late
// statuses, repeats inside a batch): when the suite and storage.go disagree, one of them has
// a bug.
//
// Readings that break meterdata.Reading.Validate are refused with the whole batch, either by
// the backend's checks or by the database's constraints; the suite does not care which.
//
// The concurrency tests (Concurrency, CompletionConcurrency, EventsConcurrency,
// TerminalEventsConcurrency, CommandsConcurrency, PlansConcurrency) are meaningful only under
// the race detector (go test -race); they also check what the contract promises of
// concurrent calls (one winner of a command's final state, distinct plan versions, each
// terminal event stored once).
package storagetest
