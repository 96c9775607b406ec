package node

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// watermarks records a pipeline's watermarks in the catalog: per source
// (the producer of the partitions), the producer's declared watermark
// (Pcs-Watermark), else the largest event time (Pcs-Event-Max), of the
// partitions this node settled, its end of input as the largest int64.
// The catalog keeps the largest per source (watermarks never move back)
// and the pipeline's effective watermark is their minimum (DESIGN section
// 7); `pcs status` and the console show them. Settled partitions only
// note theirs; run applies the new ones every interval, so the Raft log
// gets at most one entry per interval and node, not one per partition.
type watermarks struct {
	pipeline string
	cat      *catalog.Catalog // nil: nothing is recorded
	log      *slog.Logger

	mu      sync.Mutex
	pending map[string]int64 // source -> largest watermark (Unix ms) not yet applied
}

// watermarkOf is the watermark a partition's headers carry, in Unix ms,
// and whether it carries one.
func watermarkOf(m natsjs.Meta) (int64, bool) {
	switch {
	case m.IsEndOfInput():
		return math.MaxInt64, true
	case !m.Watermark.IsZero():
		return m.Watermark.UnixMilli(), true
	case !m.EventMax.IsZero():
		return m.EventMax.UnixMilli(), true
	}
	return 0, false
}

// note keeps source's watermark ms for the next apply.
func (w *watermarks) note(source string, ms int64) {
	if w.cat == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending = map[string]int64{}
	}
	if cur, ok := w.pending[source]; !ok || ms > cur {
		w.pending[source] = ms
	}
}

// run applies the noted watermarks every interval until ctx is done.
func (w *watermarks) run(ctx context.Context, every time.Duration) {
	if w.cat == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.apply(ctx)
		}
	}
}

// flush applies what was noted since the last apply (after the drain),
// bounded by 5 s.
func (w *watermarks) flush() {
	if w.cat == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.apply(ctx)
}

// apply commits the noted watermarks; a failed one is noted again.
func (w *watermarks) apply(ctx context.Context) {
	w.mu.Lock()
	batch := w.pending
	w.pending = nil
	w.mu.Unlock()
	for source, ms := range batch {
		if _, err := w.cat.Apply(ctx, catalog.NewWatermarkAdvanced(w.pipeline, source, ms)); err != nil {
			w.log.Warn("watermark not recorded; retried", "source", source, "err", err)
			w.note(source, ms)
		}
	}
}
