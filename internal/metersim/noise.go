package metersim

import "math"

// Noise is a pure function of (seed, stream, index): no generator state, so a value
// does not depend on which other values were asked for before, or in what order.

// Noise streams: one per independent quantity.
const (
	streamLoad uint64 = iota + 1
	streamLoadWhite
	streamCloud
	streamPhase        // + phase index
	streamVoltage      = streamPhase + 3
	streamVoltageWhite = streamVoltage + 3
	streamPF           = streamVoltageWhite + 3
	streamFrequency    = streamPF + 1
	streamParams       = streamFrequency + 1 // per-meter constants, + parameter index
	streamFault        = streamParams + 1000 // fault decisions, per request
	streamGarbage      = streamFault + 1     // garbage bytes, per request and byte
)

// mix is the SplitMix64 finaliser: a bijective, well-distributed 64-bit hash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

func hash(seed, stream uint64, k int64) uint64 {
	return mix(seed ^ mix(stream*0x9E3779B97F4A7C15+uint64(k)))
}

// white returns uniform noise in [-1, 1) for index k.
func white(seed, stream uint64, k int64) float64 {
	return float64(hash(seed, stream, k)>>11)/(1<<52) - 1
}

// smooth returns noise in [-1, 1] that varies smoothly over t (seconds) with knots every
// period seconds (value noise with smoothstep interpolation).
func smooth(seed, stream uint64, t int64, period int64) float64 {
	k := floorDiv(t, period)
	f := float64(t-k*period) / float64(period)
	a, b := white(seed, stream, k), white(seed, stream, k+1)
	s := f * f * (3 - 2*f)
	return a + (b-a)*s
}

// param returns a per-meter constant in [lo, hi).
func param(seed uint64, i int64, lo, hi float64) float64 {
	return lo + (hi-lo)*(white(seed, streamParams, i)+1)/2
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// roundTo rounds v to the nearest multiple of q, halves away from zero.
func roundTo(v float64, q int64) int64 {
	return int64(math.Round(v/float64(q))) * q
}
