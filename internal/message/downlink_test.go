package message

import (
	"reflect"
	"strings"
	"testing"
)

const (
	goodCommand = `{"v":1,"id":"c1-ab","meter":"T1.bus1.000000000001","action":"set_param",
		"params":{"param":"settlement_day","value":"0100"},"issued":"2026-11-24T08:00:00Z","expires":"2026-11-24T08:15:00Z"}`
	goodResult = `{"v":1,"terminal":"T1","id":"c1-ab","state":"succeeded","time":"2026-11-24T08:00:01Z","values":{"status3":16}}`
	goodPlan   = `{"v":1,"terminal":"T1","version":2,"issued":"2026-11-24T08:00:00Z",
		"acquisition":{"instant_interval":"15m","daily_frozen_interval":"0s"},
		"meters":[{"bus":"bus1","address":"000000000001","ct_ratio":40,"state":"inactive"}]}`
	goodReport = `{"v":1,"terminal":"T1","applied":2,"version":2,"state":"applied","time":"2026-11-24T08:00:01Z"}`
	goodEvents = `{"v":1,"terminal":"T1","events":[{"seq":3,"meter":"T1.bus1.000000000001","time":"2026-11-24T08:00:00Z","kind":"gap",
		"message":"lost","data":{"from_ms":1,"to_ms":2}},{"seq":4,"time":"2026-11-24T08:00:00Z","kind":"meter_silent"}]}`
)

// TestDownlinkDecoders: the good forms decode; each refusal names its field.
func TestDownlinkDecoders(t *testing.T) {
	if c, err := DecodeCommand("T1", []byte(goodCommand)); err != nil || c.Params["value"] != "0100" {
		t.Fatalf("good command: %+v %v", c, err)
	}
	if r, err := DecodeCommandResult("T1", []byte(goodResult)); err != nil || !r.Final() || r.Values["status3"] != 16 {
		t.Fatalf("good result: %+v %v", r, err)
	}
	if p, err := DecodePlan("T1", []byte(goodPlan)); err != nil || p.Intervals().Instant.Minutes() != 15 || !p.Intervals().HasDailyFrozen || p.Intervals().HasSettle {
		t.Fatalf("good plan: %+v %v", p, err)
	}
	if _, err := DecodeConfigReport("T1", []byte(goodReport)); err != nil {
		t.Fatalf("good report: %v", err)
	}
	if b, err := DecodeEventBatch("T1", []byte(goodEvents)); err != nil || len(b.Events) != 2 {
		t.Fatalf("good events: %+v %v", b, err)
	}
	for _, c := range []struct {
		name   string
		decode func() error
		want   string
	}{
		{"command for another terminal's meter", func() error {
			_, err := DecodeCommand("T2", []byte(goodCommand))
			return err
		}, "not a meter of terminal"},
		{"command id", func() error {
			_, err := DecodeCommand("T1", []byte(strings.Replace(goodCommand, `"c1-ab"`, `"c1 ab"`, 1)))
			return err
		}, "id"},
		{"command action", func() error {
			_, err := DecodeCommand("T1", []byte(strings.Replace(goodCommand, `"set_param"`, `"explode"`, 1)))
			return err
		}, `action "explode"`},
		{"command param", func() error {
			_, err := DecodeCommand("T1", []byte(strings.Replace(goodCommand, `"settlement_day"`, `"colour"`, 1)))
			return err
		}, "params.param"},
		{"command expiry", func() error {
			_, err := DecodeCommand("T1", []byte(strings.Replace(goodCommand, `08:15:00Z`, `07:15:00Z`, 1)))
			return err
		}, "expires"},
		{"command params on a relay", func() error {
			_, err := DecodeCommand("T1", []byte(strings.Replace(goodCommand, `"set_param"`, `"relay_open"`, 1)))
			return err
		}, "takes no params"},
		{"result state", func() error {
			_, err := DecodeCommandResult("T1", []byte(strings.Replace(goodResult, `"succeeded"`, `"done"`, 1)))
			return err
		}, "state"},
		{"result terminal", func() error {
			_, err := DecodeCommandResult("T2", []byte(goodResult))
			return err
		}, "does not match"},
		{"plan interval", func() error {
			_, err := DecodePlan("T1", []byte(strings.Replace(goodPlan, `"15m"`, `"soon"`, 1)))
			return err
		}, "acquisition.instant_interval"},
		{"plan instant interval off", func() error {
			_, err := DecodePlan("T1", []byte(strings.Replace(goodPlan, `"15m"`, `"0s"`, 1)))
			return err
		}, "acquisition.instant_interval"},
		{"plan version", func() error {
			_, err := DecodePlan("T1", []byte(strings.Replace(goodPlan, `"version":2`, `"version":0`, 1)))
			return err
		}, "version"},
		{"plan meter state", func() error {
			_, err := DecodePlan("T1", []byte(strings.Replace(goodPlan, `"inactive"`, `"asleep"`, 1)))
			return err
		}, "meters[0]"},
		{"plan ct ratio", func() error {
			_, err := DecodePlan("T1", []byte(strings.Replace(goodPlan, `"ct_ratio":40`, `"ct_ratio":-1`, 1)))
			return err
		}, "ct_ratio"},
		{"plan unknown field", func() error {
			_, err := DecodePlan("T1", []byte(strings.Replace(goodPlan, `"issued"`, `"issued_at"`, 1)))
			return err
		}, "issued_at"},
		{"report state", func() error {
			_, err := DecodeConfigReport("T1", []byte(strings.Replace(goodReport, `"applied","time"`, `"maybe","time"`, 1)))
			return err
		}, "state"},
		{"events order", func() error {
			_, err := DecodeEventBatch("T1", []byte(strings.Replace(goodEvents, `"seq":4`, `"seq":3`, 1)))
			return err
		}, "events[1].seq"},
		{"events kind", func() error {
			_, err := DecodeEventBatch("T1", []byte(strings.Replace(goodEvents, `"meter_silent"`, `"meteor"`, 1)))
			return err
		}, "events[1].kind"},
		{"event ack", func() error {
			_, err := DecodeEventAck([]byte(`{"v":1,"last_seq":0}`))
			return err
		}, "last_seq"},
	} {
		err := c.decode()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to name %q", c.name, err, c.want)
		}
	}
}

// roundTrip checks that what a decoder accepts encodes to something it accepts again, equal.
func roundTrip[T any](t *testing.T, p []byte, decode func([]byte) (T, error), encode func(T) ([]byte, error)) {
	v, err := decode(p)
	if err != nil {
		return
	}
	enc, err := encode(v)
	if err != nil {
		t.Fatalf("encode accepted value: %v", err)
	}
	v2, err := decode(enc)
	if err != nil {
		t.Fatalf("re-decode: %v\n%s", err, enc)
	}
	if !reflect.DeepEqual(v, v2) {
		t.Fatalf("round trip differs:\n%+v\n%+v", v, v2)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(goodCommand))
	f.Fuzz(func(t *testing.T, p []byte) {
		roundTrip(t, p, func(b []byte) (Command, error) { return DecodeCommand("T1", b) }, Command.Encode)
	})
}

func FuzzDecodeCommandResult(f *testing.F) {
	f.Add([]byte(goodResult))
	f.Fuzz(func(t *testing.T, p []byte) {
		roundTrip(t, p, func(b []byte) (CommandResult, error) { return DecodeCommandResult("T1", b) }, CommandResult.Encode)
	})
}

func FuzzDecodePlan(f *testing.F) {
	f.Add([]byte(goodPlan))
	f.Fuzz(func(t *testing.T, p []byte) {
		roundTrip(t, p, func(b []byte) (Plan, error) { return DecodePlan("T1", b) }, Plan.Encode)
	})
}

func FuzzDecodeConfigReport(f *testing.F) {
	f.Add([]byte(goodReport))
	f.Fuzz(func(t *testing.T, p []byte) {
		roundTrip(t, p, func(b []byte) (ConfigReport, error) { return DecodeConfigReport("T1", b) }, ConfigReport.Encode)
	})
}

func FuzzDecodeEventBatch(f *testing.F) {
	f.Add([]byte(goodEvents))
	f.Add([]byte(`{"v":1,"last_seq":3}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		roundTrip(t, p, func(b []byte) (EventBatch, error) { return DecodeEventBatch("T1", b) }, EventBatch.Encode)
		roundTrip(t, p, DecodeEventAck, EventAck.Encode)
	})
}
