package node

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/plan"
)

// backpressure pauses a pipeline's fetching while its sink stream holds
// at least high_water of its max_bytes, and resumes at low_water (DESIGN
// section 5): a full sink never makes the node drop or fail partitions.
type backpressure struct {
	pipeline string
	cfg      plan.BackpressureConfig
	poll     time.Duration
	stream   jetstream.Stream // the sink stream
	paused   atomic.Bool
	m        *Metrics
	log      *slog.Logger
}

// watch polls the sink stream's fill until ctx is done.
func (b *backpressure) watch(ctx context.Context) {
	t := time.NewTicker(b.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		info, err := b.stream.Info(ctx)
		if err != nil || info.Config.MaxBytes <= 0 {
			continue
		}
		fill := float64(info.State.Bytes) / float64(info.Config.MaxBytes)
		switch {
		case !b.paused.Load() && fill >= b.cfg.HighWater:
			b.paused.Store(true)
			b.m.paused.WithLabelValues(b.pipeline).Set(1)
			b.log.Warn("output stream above high water; fetching paused", "stream", info.Config.Name, "fill", fill)
		case b.paused.Load() && fill <= b.cfg.LowWater:
			b.paused.Store(false)
			b.m.paused.WithLabelValues(b.pipeline).Set(0)
			b.log.Info("output stream below low water; fetching resumed", "stream", info.Config.Name, "fill", fill)
		}
	}
}
