package modbusmap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/simonvetter/modbus"
)

// DefaultTimeout is a Reader's request timeout when ReaderOptions leaves it zero.
const DefaultTimeout = time.Second

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// Timeout bounds each request, from sending it to the end of the reply (0:
	// DefaultTimeout). A gateway in front of slow serial meters needs hundreds of ms.
	Timeout time.Duration
	// Logger receives the library's own messages at debug level; nil discards them.
	Logger *slog.Logger
}

// Reader reads meters through one Modbus TCP connection (a meter, or a gateway onto a bus
// of meters told apart by unit id) with github.com/simonvetter/modbus. It connects on
// first use and again after a connection or protocol failure or a timeout (a late reply
// must not be taken for the next one); an exception keeps the connection. It is safe for
// concurrent use: reads take turns, as on a bus.
type Reader struct {
	url    string
	m      Map
	plan   []Request
	client *modbus.ModbusClient

	mu   sync.Mutex
	open bool
}

// NewReader returns a Reader of meters with register map m at url, "tcp://host:port". It
// validates m and the url but does not connect.
func NewReader(url string, m Map, opts ReaderOptions) (*Reader, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	hostPort, ok := strings.CutPrefix(url, "tcp://")
	if !ok {
		return nil, fmt.Errorf("modbus url %q: want tcp://host:port", url)
	}
	if _, port, err := net.SplitHostPort(hostPort); err != nil || port == "" {
		return nil, fmt.Errorf("modbus url %q: want tcp://host:port", url)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := modbus.NewClient(&modbus.ClientConfiguration{
		URL:     url,
		Timeout: timeout,
		// The library prints to stdout without a logger of its own.
		Logger: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	})
	if err != nil {
		return nil, fmt.Errorf("modbus %s: %w", url, err)
	}
	return &Reader{url: url, m: m.Clone(), plan: m.Plan(), client: c}, nil
}

// Plan returns the reads one ReadInstant makes.
func (r *Reader) Plan() []Request { return append([]Request(nil), r.plan...) }

// ReadInstant reads every channel of the map from the meter with the given unit id (1 to
// 255; 0 is the serial broadcast address, which no meter answers). Errors name the unit
// and the request and wrap ErrTimeout, ErrConnection, ErrProtocol, an Exception or
// ErrValue. ctx is checked before each request; a request in flight ends within the
// timeout, and connecting within the library's fixed 5 s (it takes no context).
func (r *Reader) ReadInstant(ctx context.Context, unit uint8) (map[string]int64, error) {
	if unit == 0 {
		return nil, fmt.Errorf("modbus %s: unit 0 is the broadcast address", r.url)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	blocks := make([]Block, 0, len(r.plan))
	for _, q := range r.plan {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("modbus %s unit %d: %w", r.url, unit, err)
		}
		words, err := r.read(unit, q)
		if err != nil {
			return nil, fmt.Errorf("modbus %s unit %d: read %s: %w", r.url, unit, q, err)
		}
		blocks = append(blocks, Block{Table: q.Table, Start: q.Start, Words: words})
	}
	values, err := r.m.Decode(blocks)
	if err != nil {
		return nil, fmt.Errorf("modbus %s unit %d: %w", r.url, unit, err)
	}
	return values, nil
}

// read runs one request, connecting first if need be. r.mu is held.
func (r *Reader) read(unit uint8, q Request) ([]uint16, error) {
	if !r.open {
		if err := r.client.Open(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConnection, err)
		}
		r.open = true
	}
	// The unit id is client state: set it under r.mu, before every request.
	if err := r.client.SetUnitId(unit); err != nil {
		return nil, err
	}
	regType := modbus.HOLDING_REGISTER
	if q.Table == Input {
		regType = modbus.INPUT_REGISTER
	}
	words, err := r.client.ReadRegisters(q.Start, q.Count, regType)
	if err == nil {
		return words, nil
	}
	err = libraryError(err)
	var exc Exception
	if !errors.As(err, &exc) {
		r.client.Close() // timeout, broken stream or connection: start afresh next time
		r.open = false
	}
	return nil, err
}

// Close closes the connection; the next read connects again.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.open {
		return nil
	}
	r.open = false
	return r.client.Close()
}

// libraryExceptions maps the library's exception errors to their codes (§7).
var libraryExceptions = map[error]Exception{
	modbus.ErrIllegalFunction:         ExceptionIllegalFunction,
	modbus.ErrIllegalDataAddress:      ExceptionIllegalDataAddress,
	modbus.ErrIllegalDataValue:        ExceptionIllegalDataValue,
	modbus.ErrServerDeviceFailure:     ExceptionServerDeviceFailure,
	modbus.ErrAcknowledge:             ExceptionAcknowledge,
	modbus.ErrServerDeviceBusy:        ExceptionServerDeviceBusy,
	modbus.ErrMemoryParityError:       ExceptionMemoryParityError,
	modbus.ErrGWPathUnavailable:       ExceptionGatewayPathUnavailable,
	modbus.ErrGWTargetFailedToRespond: ExceptionGatewayTargetFailed,
}

// libraryError turns an error of the library's client into ours: an Exception, or the
// library's error wrapped with ErrTimeout, ErrProtocol or ErrConnection.
func libraryError(err error) error {
	var le modbus.Error
	if errors.As(err, &le) {
		if exc, ok := libraryExceptions[le]; ok {
			return exc
		}
		switch le {
		case modbus.ErrRequestTimedOut:
			return fmt.Errorf("%w: %w", ErrTimeout, err)
		case modbus.ErrProtocolError, modbus.ErrShortFrame, modbus.ErrBadUnitId,
			modbus.ErrBadTransactionId, modbus.ErrUnknownProtocolId, modbus.ErrBadCRC:
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		return err // configuration errors: a bug of ours, not the peer's
	}
	// The library reports codes it has no name for as "unknown exception code (N)".
	if s, ok := strings.CutPrefix(err.Error(), "unknown exception code ("); ok {
		if n, err := strconv.ParseUint(strings.TrimSuffix(s, ")"), 10, 8); err == nil {
			return Exception(n)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrConnection, err)
}

// ParseUnitID parses a Modbus meter's bus address, as meterdata prints it, into its unit
// id: 1 to 247, the serial line's unicast addresses (a TCP gateway forwards to them).
func ParseUnitID(address string) (uint8, error) {
	n, err := strconv.ParseUint(address, 10, 8)
	if err != nil || n < 1 || n > 247 {
		return 0, fmt.Errorf("modbus unit id %q: want 1 to 247", address)
	}
	return uint8(n), nil
}
