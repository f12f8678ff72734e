package message

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"gridmeter/internal/meterdata"
)

const goodBatch = `{"v":1,"terminal":"T1","first_seq":7,"last_seq":8,"historical":false,"sent":"2026-11-24T04:15:01.250Z","readings":[` +
	`{"seq":7,"meter":"T1.bus1.000000000001","kind":"instant","time":"2026-11-24T04:15:00.000Z","values":{"e_imp":1234567,"p":-1500,"u_a":220100},"quality":[]},` +
	`{"seq":8,"meter":"T1.bus1.000000000002","kind":"daily_frozen","time":"2026-11-24T00:00:00.000Z","values":{"e_imp":99},"quality":["backfilled"]}]}`

func TestReadingBatchGolden(t *testing.T) {
	b, err := DecodeReadingBatch("T1", []byte(goodBatch))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := ReadingBatch{
		V: 1, Terminal: "T1", FirstSeq: 7, LastSeq: 8,
		Sent: Time{time.Date(2026, 11, 24, 4, 15, 1, 250e6, time.UTC)},
		Readings: []Reading{
			{Seq: 7, Meter: "T1.bus1.000000000001", Kind: meterdata.KindInstant, Time: Time{time.Date(2026, 11, 24, 4, 15, 0, 0, time.UTC)},
				Values: map[string]int64{"e_imp": 1234567, "p": -1500, "u_a": 220100}},
			{Seq: 8, Meter: "T1.bus1.000000000002", Kind: meterdata.KindDailyFrozen, Time: Time{time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
				Values: map[string]int64{"e_imp": 99}, Quality: meterdata.QualityBackfilled},
		},
	}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", b, want)
	}
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(enc); got != goodBatch {
		t.Fatalf("re-encoded\n%s\nwant\n%s", got, goodBatch)
	}
}

func TestReadingBatchRefused(t *testing.T) {
	mutate := func(old, new string) string {
		if !strings.Contains(goodBatch, old) {
			panic("test: " + old + " not in batch")
		}
		return strings.Replace(goodBatch, old, new, 1)
	}
	tests := []struct {
		name, topicTerminal, payload, wantErr string
	}{
		{"empty", "T1", ``, "empty payload"},
		{"not json", "T1", `{"v":1,`, "reading batch"},
		{"trailing", "T1", goodBatch + `{}`, "trailing data"},
		{"unknown field", "T1", mutate(`"historical":false`, `"historical":false,"extra":1`), `unknown field "extra"`},
		{"version", "T1", mutate(`"v":1`, `"v":2`), "unsupported contract version"},
		{"wrong type", "T1", mutate(`"first_seq":7`, `"first_seq":"7"`), `field "first_seq"`},
		{"terminal mismatch", "T2", goodBatch, `does not match topic terminal "T2"`},
		{"seq zero", "T1", mutate(`"first_seq":7`, `"first_seq":0`), "want 1 <= first_seq"},
		{"seq order", "T1", mutate(`"seq":8`, `"seq":6`), "readings[1].seq 6: not above"},
		{"seq outside", "T1", mutate(`"last_seq":8`, `"last_seq":9`), "does not match the readings'"},
		{"foreign meter", "T1", mutate(`"T1.bus1.000000000002"`, `"T9.bus1.000000000002"`), `readings[1].meter "T9.bus1.000000000002": not a meter of terminal "T1"`},
		{"bad meter id", "T1", mutate(`"T1.bus1.000000000002"`, `"T1.bus1"`), `readings[1].meter`},
		{"unknown kind", "T1", mutate(`"kind":"daily_frozen"`, `"kind":"weekly"`), `readings[1]: meter T1.bus1.000000000002: kind "weekly"`},
		{"unknown channel", "T1", mutate(`"e_imp":99`, `"e_xyz":99`), `readings[1]: meter T1.bus1.000000000002 kind daily_frozen: unknown channel "e_xyz"`},
		{"no values", "T1", mutate(`"values":{"e_imp":99}`, `"values":{}`), "no values"},
		{"bad quality", "T1", mutate(`["backfilled"]`, `["guessed"]`), `quality flag "guessed"`},
		{"bad time", "T1", mutate(`"2026-11-24T00:00:00.000Z"`, `"yesterday"`), `time "yesterday"`},
		{"implausible time", "T1", mutate(`"2026-11-24T00:00:00.000Z"`, `"1970-01-01T00:00:00Z"`), "outside 2000..2100"},
		{"float value", "T1", mutate(`"e_imp":99`, `"e_imp":99.5`), `values`},
		{"no readings", "T1", `{"v":1,"terminal":"T1","first_seq":1,"last_seq":1,"historical":false,"sent":"2026-11-24T04:15:01Z","readings":[]}`, "readings: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeReadingBatch(tt.topicTerminal, []byte(tt.payload))
			if err == nil {
				t.Fatalf("decoded without error, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	if _, err := DecodeReadingBatch("T1", []byte(mutate(`"v":1`, `"v":3`))); !errors.Is(err, ErrVersion) {
		t.Fatalf("version error %v is not ErrVersion", err)
	}
}

func TestAckStatusMetersRoundTrip(t *testing.T) {
	a := Ack{FirstSeq: 1, LastSeq: 5, Result: AckStored, Inserted: 4, Duplicates: 1}
	p, _ := a.Encode()
	got, err := DecodeAck(p)
	a.V = Version
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("ack round trip: %+v, %v", got, err)
	}
	if _, err := DecodeAck([]byte(`{"v":1,"first_seq":5,"last_seq":1,"result":"stored"}`)); err == nil {
		t.Fatal("ack with last_seq < first_seq accepted")
	}
	if _, err := DecodeAck([]byte(`{"v":1,"first_seq":1,"last_seq":1,"result":"maybe"}`)); err == nil {
		t.Fatal("ack with unknown result accepted")
	}

	now := Time{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := Status{Terminal: "T1", State: StateOnline, Software: "0.1.0", Time: &now}
	p, _ = s.Encode()
	gs, err := DecodeStatus("T1", p)
	if err != nil || gs.State != StateOnline || !gs.Time.Equal(now.Time) {
		t.Fatalf("status round trip: %+v, %v", gs, err)
	}
	if _, err := DecodeStatus("T1", []byte(`{"v":1,"terminal":"T1","state":"asleep"}`)); err == nil {
		t.Fatal("status with unknown state accepted")
	}
	s.Checks = []Check{{Name: "journal", OK: true}, {Name: "meter T1.bus1.000000000001", OK: false, Detail: "timeout, no reply"}}
	p, _ = s.Encode()
	if gs, err := DecodeStatus("T1", p); err != nil || len(gs.Checks) != 2 || gs.Checks[1].OK || gs.Checks[1].Detail != "timeout, no reply" {
		t.Fatalf("status with checks: %+v, %v", gs, err)
	}
	if _, err := DecodeStatus("T1", []byte(`{"v":1,"terminal":"T1","state":"online","checks":[{"name":"","ok":true}]}`)); err == nil || !strings.Contains(err.Error(), "checks[0]") {
		t.Fatalf("check without a name: %v", err)
	}

	m := Meters{Terminal: "T1", Meters: []meterdata.Meter{{ID: "T1.bus1.000000000001", Terminal: "T1", Bus: "bus1", Address: "000000000001", Protocol: "dlt645"}}}
	p, _ = m.Encode()
	if _, err := DecodeMeters("T1", p); err != nil {
		t.Fatalf("meters round trip: %v", err)
	}
	m.Meters = append(m.Meters, m.Meters[0])
	p, _ = m.Encode()
	if _, err := DecodeMeters("T1", p); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("duplicate meter: %v", err)
	}
}

func TestParseTopic(t *testing.T) {
	term, suffix, err := ParseTopic(Topic("T-1_a", UpReadings))
	if err != nil || term != "T-1_a" || suffix != UpReadings {
		t.Fatalf("got %q %q %v", term, suffix, err)
	}
	for _, bad := range []string{"other/v1/T1/up/readings", "gridmeter/v1/T1", "gridmeter/v1/T.1/up/readings", "gridmeter/v1//up"} {
		if _, _, err := ParseTopic(bad); err == nil {
			t.Errorf("ParseTopic(%q) accepted", bad)
		}
	}
}

// FuzzDecodeReadingBatch: no input panics the decoder, and whatever it accepts re-encodes to
// a payload that decodes to the same batch.
func FuzzDecodeReadingBatch(f *testing.F) {
	f.Add([]byte(goodBatch))
	f.Add([]byte(`{"v":1,"terminal":"T1","first_seq":1,"last_seq":1,"readings":[{"seq":1}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := DecodeReadingBatch("T1", p)
		if err != nil {
			return
		}
		enc, err := b.Encode()
		if err != nil {
			t.Fatalf("encode accepted batch: %v", err)
		}
		b2, err := DecodeReadingBatch("T1", enc)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(b, b2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", b, b2)
		}
	})
}

func FuzzDecodeAck(f *testing.F) {
	f.Add([]byte(`{"v":1,"first_seq":1,"last_seq":5,"result":"stored","inserted":5}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		a, err := DecodeAck(p)
		if err != nil {
			return
		}
		enc, _ := a.Encode()
		if _, err := DecodeAck(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
