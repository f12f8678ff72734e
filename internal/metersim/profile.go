package metersim

import (
	"fmt"
	"math"
	"time"
)

// CustomerType selects a meter's daily load shape and size.
type CustomerType int

// Customer types. All are simulated as direct-connected three-phase meters (3×220/380 V),
// sized so that power stays inside the XX.XXXX kW data format (below 80 kW).
const (
	Residential CustomerType = iota // evening peak, low at night; about 2.5 kW peak, 15–20 kWh a day
	Commercial                      // office/shop hours, quieter weekends; about 25 kW peak
	Industrial                      // shifts, high base load; about 60 kW peak
)

var customerNames = [...]string{"residential", "commercial", "industrial"}

func (c CustomerType) String() string {
	if c >= 0 && int(c) < len(customerNames) {
		return customerNames[c]
	}
	return fmt.Sprintf("CustomerType(%d)", int(c))
}

// ParseCustomerType parses "residential", "commercial" or "industrial".
func ParseCustomerType(s string) (CustomerType, error) {
	for i, n := range customerNames {
		if s == n {
			return CustomerType(i), nil
		}
	}
	return 0, fmt.Errorf("metersim: customer type %q: want residential, commercial or industrial", s)
}

func (c CustomerType) valid() bool { return c >= 0 && int(c) < len(customerNames) }

// profile is a customer type's load description.
type profile struct {
	peakW   float64     // typical peak active power
	shape   [24]float64 // fraction of peak at each local hour, interpolated linearly
	weekend float64     // factor on Saturdays and Sundays
	pfLo    float64     // range of the meter's typical power factor
	pfHi    float64
	initLo  float64 // range of the energy register at the start, kWh
	initHi  float64
}

var profiles = [...]profile{
	Residential: {
		peakW: 2500,
		shape: [24]float64{0.10, 0.08, 0.07, 0.07, 0.07, 0.08, 0.15, 0.35, 0.30, 0.18, 0.15, 0.18,
			0.28, 0.20, 0.15, 0.15, 0.20, 0.35, 0.60, 0.85, 1.00, 0.85, 0.50, 0.22},
		weekend: 1.1, pfLo: 0.95, pfHi: 0.985, initLo: 2000, initHi: 20000,
	},
	Commercial: {
		peakW: 25000,
		shape: [24]float64{0.20, 0.18, 0.18, 0.18, 0.18, 0.20, 0.25, 0.40, 0.70, 0.90, 0.95, 1.00,
			0.95, 0.90, 0.95, 1.00, 0.95, 0.85, 0.65, 0.50, 0.40, 0.30, 0.25, 0.22},
		weekend: 0.6, pfLo: 0.92, pfHi: 0.97, initLo: 10000, initHi: 100000,
	},
	Industrial: {
		peakW: 60000,
		shape: [24]float64{0.65, 0.62, 0.60, 0.60, 0.60, 0.62, 0.70, 0.85, 0.95, 1.00, 1.00, 0.95,
			0.85, 0.95, 1.00, 1.00, 0.95, 0.90, 0.80, 0.75, 0.72, 0.70, 0.68, 0.66},
		weekend: 0.7, pfLo: 0.90, pfHi: 0.95, initLo: 50000, initHi: 300000,
	},
}

// at returns the shape value at a local time.
func (p *profile) at(lt time.Time) float64 {
	h := lt.Hour()
	frac := (float64(lt.Minute()) + float64(lt.Second())/60) / 60
	v := p.shape[h] + (p.shape[(h+1)%24]-p.shape[h])*frac
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
		v *= p.weekend
	}
	return v
}

// solar returns the clear-sky output of a PV array at a local time, 0…1.
func solar(lt time.Time) float64 {
	h := float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600
	if h <= 6 || h >= 18 {
		return 0
	}
	return math.Sin(math.Pi * (h - 6) / 12)
}

// Rates are the four time-of-use rates of the energy block 0001FF00, numbered as the
// registers are: 1 sharp (尖), 2 peak (峰), 3 flat (平), 4 valley (谷).
const (
	RateSharp  = 1
	RatePeak   = 2
	RateFlat   = 3
	RateValley = 4
)

// touRate maps each local hour to its rate: valley 23–07, flat 07–08, 11–17 and 22–23,
// peak 08–11, 17–19 and 21–22, sharp 19–21 (a typical provincial tariff).
var touRate = [24]int{
	4, 4, 4, 4, 4, 4, 4, // 00–07
	3,       // 07
	2, 2, 2, // 08–11
	3, 3, 3, 3, 3, 3, // 11–17
	2, 2, // 17–19
	1, 1, // 19–21
	2, // 21
	3, // 22
	4, // 23
}

// RateAt returns the time-of-use rate (1…4) in force at a local time.
func RateAt(lt time.Time) int { return touRate[lt.Hour()] }
