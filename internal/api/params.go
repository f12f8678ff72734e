package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gridmeter/internal/meterdata"
)

// params is a request's query string, checked against the parameters its route takes; each
// getter refuses a malformed value with a 400 naming the parameter.
type params struct{ vals url.Values }

// queryParams refuses a parameter the route does not take.
func queryParams(r *http.Request, names ...string) (params, error) {
	vals := r.URL.Query()
	for k := range vals {
		known := false
		for _, n := range names {
			known = known || k == n
		}
		if !known {
			return params{}, badRequest("unknown parameter %q: want %s", k, strings.Join(names, ", "))
		}
	}
	return params{vals}, nil
}

// terminal returns ?terminal= ("" if absent).
func (p params) terminal() (string, error) {
	v := p.vals.Get("terminal")
	if v != "" {
		if err := meterdata.ValidateTerminalID(v); err != nil {
			return "", badRequest("terminal: %v", err)
		}
	}
	return v, nil
}

// meter returns ?meter= ("" if absent).
func (p params) meter() (meterdata.MeterID, error) {
	v := meterdata.MeterID(p.vals.Get("meter"))
	if v != "" {
		if err := v.Validate(); err != nil {
			return "", badRequest("meter: %v", err)
		}
	}
	return v, nil
}

// limit returns ?limit= in 1..max, or def if absent.
func (p params) limit(def, max int) (int, error) {
	l := p.vals.Get("limit")
	if l == "" {
		return def, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("limit %q: want a whole number from 1 to %d", l, max)
	}
	return n, nil
}

// time sets *dst from an RFC 3339 parameter, if present.
func (p params) time(name string, dst *time.Time) error {
	v := p.vals.Get(name)
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return badRequest("%s: invalid time %q: want RFC 3339 (2026-01-02T15:04:05Z)", name, v)
	}
	*dst = t.UTC()
	return nil
}

// bool returns a true/false parameter (false if absent).
func (p params) bool(name string) (bool, error) {
	v := p.vals.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("%s %q: want true or false", name, v)
	}
	return b, nil
}
