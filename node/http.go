package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// controlPlane is the node's HTTP server: the console (/), /healthz (the
// process is up), /readyz (connected and consuming, not draining),
// /metrics (Prometheus text format) and /v1/status (Status as JSON).
type controlPlane struct {
	srv   *http.Server
	ln    net.Listener
	ready atomic.Bool
}

// listenControlPlane binds the control plane's address early, so the
// bound address (port 0 resolved) can be published in the catalog's node
// table before the server starts.
func listenControlPlane(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("node: http listen %s: %w", addr, err)
	}
	return ln, nil
}

// startControlPlane serves on ln (see listenControlPlane).
func startControlPlane(ln net.Listener, m *Metrics, status func(context.Context) Status, auth httpAuth) *controlPlane {
	cp := &controlPlane{ln: ln}
	cp.srv = &http.Server{Handler: auth.wrap(controlHandler(m, status, &cp.ready)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = cp.srv.Serve(ln) }()
	return cp
}

// controlHandler is every route of the control plane in one handler (a
// middleware such as authentication wraps it as a whole). ready reports
// /readyz.
func controlHandler(m *Metrics, status func(context.Context) Status, ready *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	prom := promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		m.update() // ages and lags as of now
		prom.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(status(ctx))
	})
	handleConsole(mux)
	return mux
}

// Addr returns the listening address (useful with port 0).
func (cp *controlPlane) Addr() string { return cp.ln.Addr().String() }

func (cp *controlPlane) shutdown(ctx context.Context) error {
	if err := cp.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
