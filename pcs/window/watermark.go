package window

import (
	"math"
	"sort"
	"time"
)

// NoWatermark is the watermark before any event time was seen.
const NoWatermark = math.MinInt64

// watermarks tracks per-source watermarks (Flink model). Times are ms.
//
// A source's watermark is the max event time it has shown minus the
// out-of-orderness bound. The effective watermark is the minimum over
// sources that are not idle, and never goes back. A source is idle when it
// has not delivered anything for the idle timeout (0: never idle), by the
// operator's clock; an idle source stops holding the minimum back and
// becomes active again with its next batch. When every source is idle the
// effective watermark stays where it is.
type watermarks struct {
	ooo     int64
	idle    time.Duration
	now     func() time.Time
	sources map[string]*source
	current int64
}

type source struct {
	max  int64     // max event time seen, ms
	last time.Time // last delivery, by the clock
}

func newWatermarks(ooo int64, idle time.Duration, now func() time.Time) *watermarks {
	return &watermarks{ooo: ooo, idle: idle, now: now, sources: map[string]*source{}, current: NoWatermark}
}

// observe records a delivery from src whose max event time is maxT
// (NoWatermark if it carried no event time).
func (w *watermarks) observe(src string, maxT int64) {
	s := w.sources[src]
	if s == nil {
		s = &source{max: NoWatermark}
		w.sources[src] = s
	}
	s.max = max(s.max, maxT)
	s.last = w.now()
}

// advance recomputes the effective watermark and returns it.
func (w *watermarks) advance() int64 {
	now := w.now()
	m, any := int64(math.MaxInt64), false
	for _, s := range w.sources {
		if w.idle > 0 && now.Sub(s.last) >= w.idle {
			continue
		}
		any = true
		m = min(m, satAdd(s.max, -w.ooo))
	}
	if any && m > w.current {
		w.current = m
	}
	return w.current
}

// names returns the sources in name order.
func (w *watermarks) names() []string {
	ns := make([]string, 0, len(w.sources))
	for n := range w.sources {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}
