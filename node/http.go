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

// controlPlane is the node's HTTP server: /healthz (the process is up),
// /readyz (connected and consuming, not draining), /metrics (Prometheus
// text format) and /v1/status (Status as JSON).
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
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !cp.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(status(ctx))
	})
	cp.srv = &http.Server{Handler: auth.wrap(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = cp.srv.Serve(ln) }()
	return cp
}

// Addr returns the listening address (useful with port 0).
func (cp *controlPlane) Addr() string { return cp.ln.Addr().String() }

func (cp *controlPlane) shutdown(ctx context.Context) error {
	if err := cp.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
