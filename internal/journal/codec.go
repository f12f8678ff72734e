package journal

import (
	"slices"
	"strconv"
)

// encodeValues returns the canonical JSON of a validated reading's values: an object with
// the keys in sorted order, no spaces, integer values; byte for byte what encoding/json
// produces for the map, about ten times faster. Keys are known channel names
// ([a-z0-9_]), which need no escaping.
func encodeValues(vals map[string]int64) string {
	names := make([]string, 0, len(vals))
	size := 2
	for k := range vals {
		names = append(names, k)
		size += len(k) + 24
	}
	slices.Sort(names)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, vals[k], 10)
	}
	b = append(b, '}')
	return string(b)
}
