// Package telemetry serves a terminal's metrics in the Prometheus text format over a small
// read-only HTTP endpoint (/metrics). It is the terminal's only HTTP code: the terminal must
// not link the head-end's API.
package telemetry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// Serve listens on addr and serves write's output at /metrics until ctx is cancelled. It
// returns the address it listens on.
func Serve(ctx context.Context, addr string, write func(w io.Writer)) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		write(w)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener failed: the terminal runs on without metrics
		}
	}()
	return ln.Addr(), nil
}
