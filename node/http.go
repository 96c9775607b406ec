package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// controlPlane is the node's HTTP server: the console (/), /healthz (the
// process is up), /readyz (consuming, not draining, the broker connected
// and the catalog with a leader; see Node.unready),
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

// startControlPlane serves on ln (see listenControlPlane). unready says
// why the node cannot work now ("" when it can); /readyz is 200 only
// while cp.ready is set (Run consumes) and unready returns "".
func startControlPlane(ln net.Listener, m *Metrics, status func(context.Context) Status, auth httpAuth, unready func() string) *controlPlane {
	cp := &controlPlane{ln: ln}
	reason := func() string {
		if !cp.ready.Load() {
			return "not consuming (starting or draining)"
		}
		return unready()
	}
	cp.srv = &http.Server{Handler: auth.wrap(controlHandler(m, status, reason)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = cp.srv.Serve(ln) }()
	return cp
}

// controlHandler is every route of the control plane in one handler (a
// middleware such as authentication wraps it as a whole). unready is
// /readyz: "" when ready, else why not (the 503's body).
func controlHandler(m *Metrics, status func(context.Context) Status, unready func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := unready(); why != "" {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
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

// unready says why this node cannot do its work now, "" when it can: the
// broker connection is down (fetches and publishes wait for the
// reconnect), or the catalog knows no leader (an election, a lost quorum,
// this node cut off or removed: nothing can be recorded done, so nothing
// is acked). A load balancer or supervisor reading /readyz then routes
// around the node; the fault campaign saw 200 through a broker outage and
// a quorum loss.
func (n *Node) unready() string {
	if !n.nc.IsConnected() {
		return "broker " + strings.ToLower(n.nc.Status().String())
	}
	if n.cat != nil {
		if id, _ := n.cat.Leader(); id == "" {
			return "catalog has no leader"
		}
	}
	if n.store.full() {
		return "JetStream store full (insufficient resources): free space or raise max_file_store"
	}
	return ""
}
