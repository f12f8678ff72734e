package modbusmap

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestServerStops(t *testing.T) {
	img, want := sdm630Image(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := StartServer(ctx, "127.0.0.1:0", &fakeMeter{input: img}, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := newReader(t, "tcp://"+srv.Addr().String(), SDM630(), time.Second)
	if got, err := r.ReadInstant(context.Background(), 1); err != nil || len(got) != len(want) {
		t.Fatalf("read: %v, %v", got, err)
	}
	cancel()
	<-srv.Done()
	// The open connection was closed and the listener is gone.
	if _, err := r.ReadInstant(context.Background(), 1); !errors.Is(err, ErrConnection) {
		t.Errorf("read after stop: %v, want ErrConnection", err)
	}
	if c, err := net.Dial("tcp", srv.Addr().String()); err == nil {
		c.Close()
		t.Error("dial after stop succeeded")
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestServerFixedPort: a given port is used as is, and a taken one is an error.
func TestServerFixedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := StartServer(context.Background(), ln.Addr().String(), &fakeMeter{}, ServerOptions{}); err == nil {
		t.Error("started on a port in use")
	}
	if _, err := StartServer(context.Background(), "no-port", &fakeMeter{}, ServerOptions{}); err == nil {
		t.Error("started without a port")
	}
}
