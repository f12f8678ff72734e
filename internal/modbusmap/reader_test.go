package modbusmap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simonvetter/modbus"
)

// fakeMeter answers reads from fixed register images, or with the error set for a unit,
// and records the requests it saw.
type fakeMeter struct {
	mu       sync.Mutex
	input    map[uint16]uint16
	holding  map[uint16]uint16
	fail     map[uint8]error // unit → error to answer with
	block    chan struct{}   // if set, reads wait for it to close
	requests []string
}

func (f *fakeMeter) HandleCoils(*modbus.CoilsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (f *fakeMeter) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}

func (f *fakeMeter) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	if req.IsWrite {
		return nil, modbus.ErrIllegalFunction
	}
	return f.read(req.UnitId, Holding, req.Addr, req.Quantity)
}

func (f *fakeMeter) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return f.read(req.UnitId, Input, req.Addr, req.Quantity)
}

func (f *fakeMeter) read(unit uint8, table Table, addr, n uint16) ([]uint16, error) {
	f.mu.Lock()
	f.requests = append(f.requests, fmt.Sprintf("unit %d %s", unit, Request{table, addr, n}))
	block, err := f.block, f.fail[unit]
	img := f.input
	if table == Holding {
		img = f.holding
	}
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if err != nil {
		return nil, err
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = img[addr+uint16(i)] // reserved registers read 0, as on Eastron meters
	}
	return out, nil
}

func (f *fakeMeter) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func startFake(t *testing.T, f *fakeMeter) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := StartServer(ctx, "127.0.0.1:0", f, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return "tcp://" + srv.Addr().String()
}

func newReader(t *testing.T, url string, m Map, timeout time.Duration) *Reader {
	t.Helper()
	r, err := NewReader(url, m, ReaderOptions{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// sdm630Image is an SDM630's input registers holding the values of TestSDM630Golden.
func sdm630Image(t *testing.T) (map[uint16]uint16, map[string]int64) {
	t.Helper()
	values := map[string]int64{
		"u_a": 230100, "u_b": 229200, "u_c": 231000, "i_a": 12345, "i_b": -5000, "i_c": 0,
		"p_a": 2836000, "p_b": -1250000, "p_c": 0, "p": 1601000, "q": 800000, "pf": 900,
		"f": 50010, "e_imp": 790094000, "e_exp": 1000,
	}
	img := map[uint16]uint16{}
	m := SDM630()
	for _, q := range m.Plan() {
		words, err := m.EncodeRange(q.Table, q.Start, q.Count, values)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range words {
			img[q.Start+uint16(i)] = w
		}
	}
	return img, values
}

func TestReaderReadInstant(t *testing.T) {
	img, want := sdm630Image(t)
	f := &fakeMeter{input: img}
	r := newReader(t, startFake(t, f), SDM630(), time.Second)
	for _, unit := range []uint8{1, 7} {
		got, err := r.ReadInstant(context.Background(), unit)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("unit %d:\n got %v\nwant %v", unit, got, want)
		}
	}
	wantReqs := []string{
		"unit 1 input 0x0000+18", "unit 1 input 0x0034+2", "unit 1 input 0x003c+4", "unit 1 input 0x0046+6",
		"unit 7 input 0x0000+18", "unit 7 input 0x0034+2", "unit 7 input 0x003c+4", "unit 7 input 0x0046+6",
	}
	if got := f.seen(); !reflect.DeepEqual(got, wantReqs) {
		t.Errorf("requests:\n got %v\nwant %v", got, wantReqs)
	}
}

// TestReaderMaxGap: a device that answers reads of reserved registers is read in one
// request when the map allows the gaps.
func TestReaderMaxGap(t *testing.T) {
	img, want := sdm630Image(t)
	f := &fakeMeter{input: img}
	m := SDM630()
	m.MaxGap = 34
	r := newReader(t, startFake(t, f), m, time.Second)
	got, err := r.ReadInstant(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if got := f.seen(); !reflect.DeepEqual(got, []string{"unit 1 input 0x0000+76"}) {
		t.Errorf("requests: %v", got)
	}
}

func TestReaderExceptions(t *testing.T) {
	img, _ := sdm630Image(t)
	f := &fakeMeter{input: img, fail: map[uint8]error{
		2: modbus.ErrIllegalDataAddress,
		3: modbus.ErrGWTargetFailedToRespond,
		4: modbus.ErrServerDeviceBusy,
		5: errors.New("anything else"), // the library answers server device failure
		6: modbus.ErrGWPathUnavailable,
		7: modbus.ErrIllegalFunction,
	}}
	r := newReader(t, startFake(t, f), SDM630(), time.Second)
	cases := map[uint8]Exception{
		2: ExceptionIllegalDataAddress, 3: ExceptionGatewayTargetFailed, 4: ExceptionServerDeviceBusy,
		5: ExceptionServerDeviceFailure, 6: ExceptionGatewayPathUnavailable, 7: ExceptionIllegalFunction,
	}
	for unit, want := range cases {
		_, err := r.ReadInstant(context.Background(), unit)
		if !errors.Is(err, want) {
			t.Errorf("unit %d: %v, want %v", unit, err, want)
			continue
		}
		wantMsg := fmt.Sprintf("unit %d: read input 0x0000+18: %s", unit, want)
		if !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("unit %d: %q does not contain %q", unit, err, wantMsg)
		}
	}
	// An exception keeps the connection: unit 1 reads on the same one.
	if _, err := r.ReadInstant(context.Background(), 1); err != nil {
		t.Errorf("after exceptions: %v", err)
	}
}

func TestReaderBadValue(t *testing.T) {
	img, _ := sdm630Image(t)
	img[0x0048], img[0x0049] = 0xBF80, 0 // import energy -1 kWh
	r := newReader(t, startFake(t, &fakeMeter{input: img}), SDM630(), time.Second)
	_, err := r.ReadInstant(context.Background(), 1)
	if !errors.Is(err, ErrValue) || !strings.Contains(err.Error(), "unit 1: modbus map \"eastron-sdm630\": e_imp (input 0x0048 float32): counter is negative") {
		t.Errorf("got %v", err)
	}
}

// TestReaderTimeout: a unit that does not answer within the timeout gives ErrTimeout, and
// the reader reconnects for the next read (a late reply must not be taken for it).
func TestReaderTimeout(t *testing.T) {
	img, want := sdm630Image(t)
	block := make(chan struct{})
	f := &fakeMeter{input: img, block: block}
	r := newReader(t, startFake(t, f), SDM630(), 100*time.Millisecond)
	_, err := r.ReadInstant(context.Background(), 1)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "unit 1: read input 0x0000+18: modbus: request timed out") {
		t.Errorf("message %q", err)
	}
	f.mu.Lock()
	f.block = nil
	f.mu.Unlock()
	close(block)
	got, err := r.ReadInstant(context.Background(), 1)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after the timeout: %v, %v", got, err)
	}
}

func TestReaderConnection(t *testing.T) {
	// A port nothing listens on: take one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + ln.Addr().String()
	ln.Close()
	r := newReader(t, url, SDM630(), time.Second)
	_, err = r.ReadInstant(context.Background(), 1)
	if !errors.Is(err, ErrConnection) {
		t.Errorf("got %v, want ErrConnection", err)
	}
}

func TestReaderContext(t *testing.T) {
	img, _ := sdm630Image(t)
	f := &fakeMeter{input: img}
	r := newReader(t, startFake(t, f), SDM630(), time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.ReadInstant(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if got := f.seen(); len(got) != 0 {
		t.Errorf("requests sent after cancel: %v", got)
	}
	if _, err := r.ReadInstant(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "broadcast") {
		t.Errorf("unit 0: %v", err)
	}
}

func TestNewReaderErrors(t *testing.T) {
	for _, url := range []string{"", "127.0.0.1:502", "rtu:///dev/ttyS0", "tcp://", "tcp://host", "udp://h:1"} {
		if _, err := NewReader(url, SDM630(), ReaderOptions{}); err == nil {
			t.Errorf("NewReader(%q) accepted", url)
		}
	}
	if _, err := NewReader("tcp://127.0.0.1:1502", Map{}, ReaderOptions{}); err == nil {
		t.Error("NewReader accepted an empty map")
	}
}

func TestLibraryError(t *testing.T) {
	cases := []struct {
		in   error
		want error
	}{
		{modbus.ErrIllegalDataValue, ExceptionIllegalDataValue},
		{modbus.ErrMemoryParityError, ExceptionMemoryParityError},
		{modbus.ErrAcknowledge, ExceptionAcknowledge},
		{fmt.Errorf("unknown exception code (%v)", 66), Exception(66)},
		{modbus.ErrRequestTimedOut, ErrTimeout},
		{modbus.ErrBadUnitId, ErrProtocol},
		{modbus.ErrProtocolError, ErrProtocol},
		{modbus.ErrBadTransactionId, ErrProtocol},
		{errors.New("read tcp: connection reset by peer"), ErrConnection},
	}
	for _, tc := range cases {
		if got := libraryError(tc.in); !errors.Is(got, tc.want) {
			t.Errorf("libraryError(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
