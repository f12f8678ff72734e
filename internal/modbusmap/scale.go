package modbusmap

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxScaleTerm bounds the numerator and denominator of a Scale, so that scaling never
// needs more than 128-bit intermediates.
const maxScaleTerm = 1_000_000_000_000_000_000

// Scale is an exact rational factor Num/Den (Den > 0, in lowest terms) from a register
// value to the channel unit: 1000 turns V into mV, "1/10" turns 0.1 Wh into Wh. The zero
// Scale means 1.
//
// In YAML a scale is an integer (1000), a fraction ("1/10"), a decimal (0.001) or a power
// of ten (1e3, 1e-1); decimals are read exactly from their text, never through a float.
type Scale struct {
	Num int64
	Den int64
}

// Ratio returns num/den in lowest terms. It does not validate: see Map.Validate.
func Ratio(num, den int64) Scale {
	if den < 0 {
		num, den = -num, -den
	}
	if g := gcd(abs(num), abs(den)); g > 1 {
		num, den = num/g, den/g
	}
	return Scale{Num: num, Den: den}
}

// Pow10 returns 10^n for -18 ≤ n ≤ 18.
func Pow10(n int) Scale {
	p := int64(1)
	for range min(abs(int64(n)), 18) {
		p *= 10
	}
	if n < 0 {
		return Scale{Num: 1, Den: p}
	}
	return Scale{Num: p, Den: 1}
}

// The forms ParseScale accepts, all decimal (big.Rat alone would also take 0x and octal
// prefixes). The exponent has at most two digits, which bounds the work.
var (
	fractionPattern = regexp.MustCompile(`^[+-]?[0-9]+/[0-9]+$`)
	decimalPattern  = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,2})?$`)
)

// ParseScale parses a scale as YAML writes it (see Scale).
func ParseScale(s string) (Scale, error) {
	r := new(big.Rat)
	switch {
	case fractionPattern.MatchString(s):
		var num, den big.Int
		i := strings.IndexByte(s, '/')
		num.SetString(s[:i], 10)
		den.SetString(s[i+1:], 10)
		if den.Sign() == 0 {
			return Scale{}, fmt.Errorf("scale %q: denominator is zero", s)
		}
		r.SetFrac(&num, &den)
	case decimalPattern.MatchString(s):
		r.SetString(s)
	default:
		return Scale{}, fmt.Errorf("scale %q: want an integer, a fraction like 1/10, a decimal or a power of ten like 1e-3", s)
	}
	if !r.Num().IsInt64() || !r.Denom().IsInt64() {
		return Scale{}, fmt.Errorf("scale %q: numerator and denominator must be at most 1e18", s)
	}
	sc := Scale{Num: r.Num().Int64(), Den: r.Denom().Int64()}
	if err := sc.validate(); err != nil {
		return Scale{}, fmt.Errorf("scale %q: %w", s, err)
	}
	return sc, nil
}

// String prints the scale as ParseScale reads it: "1000", "1/10".
func (s Scale) String() string {
	s = s.norm()
	if s.Den == 1 {
		return strconv.FormatInt(s.Num, 10)
	}
	return strconv.FormatInt(s.Num, 10) + "/" + strconv.FormatInt(s.Den, 10)
}

// norm returns the scale with the zero value read as 1.
func (s Scale) norm() Scale {
	if s == (Scale{}) {
		return Scale{Num: 1, Den: 1}
	}
	return s
}

func (s Scale) validate() error {
	s = s.norm()
	switch {
	case s.Num == 0:
		return errors.New("want a nonzero factor")
	case s.Den <= 0:
		return errors.New("denominator must be positive")
	case s.Num < -maxScaleTerm || s.Num > maxScaleTerm || s.Den > maxScaleTerm:
		return errors.New("numerator and denominator must be at most 1e18")
	case gcd(abs(s.Num), s.Den) != 1:
		return fmt.Errorf("%d/%d is not in lowest terms", s.Num, s.Den)
	}
	return nil
}

// UnmarshalYAML reads a scale from the scalar's text, exactly.
func (s *Scale) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: scale: want a number or a fraction", n.Line)
	}
	v, err := ParseScale(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// MarshalYAML writes the scale as a string ParseScale reads back.
func (s Scale) MarshalYAML() (any, error) { return s.String(), nil }

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
