package node

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/pcs-dev/pcs/pcs/window"
	"github.com/pcs-dev/pcs/plan"
)

// What the delivery loop tells the metrics besides its counters:
// checkpoints (checkpoint.go, shards.go), shard owners' window state
// (shards.go), and the gauges computed at each scrape (ages and lags).

// checkpointed records a committed checkpoint of pipeline: its size and
// how long writing and committing it took.
func (m *Metrics) checkpointed(pipeline string, bytes int, took time.Duration) {
	m.checkpointSeconds.WithLabelValues(pipeline).Observe(took.Seconds())
	m.checkpointBytes.WithLabelValues(pipeline).Set(float64(bytes))
	m.checkpointTime.WithLabelValues(pipeline).Set(float64(time.Now().UnixNano()) / 1e9)
	m.mu.Lock()
	if m.ckptTook == nil {
		m.ckptTook = map[string]time.Duration{}
	}
	m.ckptTook[pipeline] = took
	m.mu.Unlock()
}

// lastCheckpointSeconds is how long the last checkpoint of pipeline took.
func (m *Metrics) lastCheckpointSeconds(pipeline string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ckptTook[pipeline].Seconds()
}

// watch registers the scrape-time gauges of pipeline: checkpoint age and
// watermark lag from their timestamps, and the window state from state
// (nil: none).
func (m *Metrics) watch(pipeline string, state func() (wm int64, windows, keys int64, ok bool)) {
	m.onScrape(func() {
		now := float64(time.Now().UnixNano()) / 1e9
		if t := gaugeValue(m.checkpointTime.WithLabelValues(pipeline)); t > 0 {
			m.checkpointAge.WithLabelValues(pipeline).Set(max(now-t, 0))
		}
		if state == nil {
			return
		}
		wm, windows, keys, ok := state()
		if !ok {
			return
		}
		m.windowOpen.WithLabelValues(pipeline).Set(float64(windows))
		m.windowKeys.WithLabelValues(pipeline).Set(float64(keys))
		if wm > 0 && wm != window.NoWatermark && wm != math.MaxInt64 {
			t := float64(wm) / 1e3
			m.watermark.WithLabelValues(pipeline).Set(t)
			m.watermarkLag.WithLabelValues(pipeline).Set(max(now-t, 0))
		}
	})
}

// shardStats is what a node's shard owners report: each owned shard's
// watermark and window state.
type shardStats struct {
	mu     sync.Mutex
	shards map[int]shardStat
}

type shardStat struct {
	wm            int64
	windows, keys int64
}

// observe records shard s's operator state after a merge.
func (so *shardOwners) observe(s int, op *window.Operator) {
	st := shardStat{wm: op.Watermark(), windows: int64(op.OpenWindows()), keys: int64(op.Keys())}
	so.stats.mu.Lock()
	if so.stats.shards == nil {
		so.stats.shards = map[int]shardStat{}
	}
	so.stats.shards[s] = st
	so.stats.mu.Unlock()
}

// state sums the owned shards' window state; the watermark is their
// minimum.
func (so *shardOwners) state() (wm int64, windows, keys int64, ok bool) {
	owned := so.owned()
	so.stats.mu.Lock()
	defer so.stats.mu.Unlock()
	wm = math.MaxInt64
	for _, s := range owned {
		st, seen := so.stats.shards[s]
		if !seen {
			continue
		}
		ok = true
		wm = min(wm, st.wm)
		windows += st.windows
		keys += st.keys
	}
	return wm, windows, keys, ok
}

// owned lists the shards this node runs, ascending.
func (so *shardOwners) owned() []int {
	so.mu.Lock()
	defer so.mu.Unlock()
	out := make([]int, 0, len(so.running))
	for s := range so.running {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// planWindow is the window state of a plan that computes its window in
// Step (no shards), or nil.
func planWindow(p *plan.Plan) func() (int64, int64, int64, bool) {
	if _, _, _, ok := p.WindowState(); !ok {
		return nil
	}
	return func() (int64, int64, int64, bool) {
		wm, windows, keys, ok := p.WindowState()
		return wm, int64(windows), int64(keys), ok
	}
}

// observe creates d's series at 0 and registers its scrape-time gauges
// (called once per pipeline by newDelivery).
func (n *Node) observe(d *delivery) {
	var systems []string
	for _, st := range d.plan.Stages() {
		systems = append(systems, st...)
	}
	n.metrics.pipeline(d.cfg.Name, systems)
	n.metrics.onScrape(func() { // the fleet's backlog, from the durable consumer
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if info, err := d.cons.Info(ctx); err == nil {
			n.metrics.consumerPending.WithLabelValues(d.cfg.Name).Set(float64(info.NumPending))
			n.metrics.consumerAck.WithLabelValues(d.cfg.Name).Set(float64(info.NumAckPending))
		}
	})
	state := planWindow(d.plan)
	if d.owners != nil {
		state = d.owners.state
	}
	if cat, name := n.cat, d.cfg.Name; cat != nil {
		// The catalog's watermark (recorded by the fleet's nodes) when the
		// operators here tell none.
		local := state
		state = func() (wm, windows, keys int64, ok bool) {
			if local != nil {
				wm, windows, keys, ok = local()
			}
			if cw, has := cat.Watermark(name); has && (!ok || wm == window.NoWatermark || wm == math.MaxInt64) {
				wm, ok = cw, true
			}
			return wm, windows, keys, ok
		}
	}
	n.metrics.watch(d.cfg.Name, state)
}

// startRates registers the catalog's metrics and starts sampling the
// pipelines' throughput (Status.Rates) until stopRates.
func (n *Node) startRates() {
	if n.cat != nil {
		n.metrics.reg.MustRegister(n.cat.Collector())
	}
	n.rates = newRates(n.metrics)
	var names []string
	for _, d := range n.pipelines {
		names = append(names, d.cfg.Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.rates.run(ctx, names) }()
	n.stopRates = func() { cancel(); <-done }
}
