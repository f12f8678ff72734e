// Package meterdata holds the vocabulary every gridmeter component shares: terminal and
// meter identity, data kinds, channels with their fixed integer units, quality flags and
// the reading itself with its exactly-once key.
//
// It imports nothing of ours; protocol packages, the terminal, the head-end and storage all
// build on it. Values are integers in fixed small units (see Channels) so energy is never a
// binary float; timestamps are UTC with millisecond precision.
package meterdata
