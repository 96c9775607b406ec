package node

import (
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// errInsufficientResources is JetStream's API error code for a write into
// a full store (503, "insufficient resources").
const errInsufficientResources = 10023

// storeFullFor is how long after the last "insufficient resources" the
// node reports its store full: writes that failed are retried meanwhile,
// and the first that succeeds clears it.
const storeFullFor = 30 * time.Second

// storeWatch notices JetStream writes refused because the store is full
// (storage.go: publishes fail at once with 503/10023 and succeed again
// once space returns, no restart). While it lasts /readyz is 503 with the
// reason, pcs_store_full is 1, and the first refusal is logged as an
// error saying what the operator does; partitions are nak'ed and retried
// as for any transient failure, so nothing is lost.
type storeWatch struct {
	last atomic.Int64 // Unix ns of the last refusal; 0: none
	log  *slog.Logger
}

// isStoreFull reports whether err is a write refused for lack of store
// space.
func isStoreFull(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) && api.ErrorCode == errInsufficientResources {
		return true
	}
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "insufficient resources")
}

// note records err if it is a full-store refusal.
func (w *storeWatch) note(err error) {
	if !isStoreFull(err) {
		return
	}
	if prev := w.last.Swap(time.Now().UnixNano()); time.Since(time.Unix(0, prev)) > storeFullFor {
		w.log.Error("JetStream store full: writes fail with 'insufficient resources' and are retried; free space (consumers acking work queues, purging, deleting streams) or raise the server's max_file_store", "err", err)
	}
}

// ok records a write that succeeded: the store took it.
func (w *storeWatch) ok() {
	if w.last.Load() != 0 {
		w.last.Store(0)
		w.log.Info("JetStream store takes writes again")
	}
}

// full reports whether a write was refused for lack of space within
// storeFullFor and none succeeded since.
func (w *storeWatch) full() bool {
	last := w.last.Load()
	return last != 0 && time.Since(time.Unix(0, last)) <= storeFullFor
}

// gauge registers pcs_store_full on m, set at each scrape.
func (w *storeWatch) gauge(m *Metrics) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pcs_store_full",
		Help: "1 while JetStream refuses this node's writes for lack of store space (insufficient resources), else 0."})
	if err := m.reg.Register(g); err != nil {
		return err
	}
	m.onScrape(func() {
		v := 0.0
		if w.full() {
			v = 1
		}
		g.Set(v)
	})
	return nil
}
