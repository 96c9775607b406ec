package growth

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// traceMetrics are the node's Go runtime gauges a trace samples (its
// /metrics, Prometheus' Go collector).
var traceMetrics = []string{"go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_next_gc_bytes"}

// Trace samples, every interval until ctx ends, the node's RSS (VmRSS),
// its Go heap (traceMetrics) and the bytes and messages in the
// pipeline's input and output streams, and calls logf with one line per
// sample. It is the benchmark's diagnosis of memory growth
// (PCS_GROWTH_TRACE).
func Trace(ctx context.Context, n *Node, js jetstream.JetStream, interval time.Duration, logf func(format string, args ...any)) {
	start := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rss, _ := statusBytes(n.Pid(), "VmRSS")
		line := fmt.Sprintf("t=%5.1fs rss=%4dMB", time.Since(start).Seconds(), rss>>20)
		vals := scrape(n.HTTP)
		for _, m := range traceMetrics {
			line += fmt.Sprintf(" %s=%dMB", strings.TrimSuffix(strings.TrimPrefix(m, "go_memstats_"), "_bytes"), int64(vals[m])>>20)
		}
		for _, st := range []string{natsjs.InputStream(pipelineName), natsjs.OutputStream(pipelineName)} {
			if s, err := js.Stream(ctx, st); err == nil {
				state := s.CachedInfo().State
				line += fmt.Sprintf(" %s=%dMB/%dmsgs", st, state.Bytes>>20, state.Msgs)
			}
		}
		logf("%s", line)
	}
}

// scrape returns the unlabelled gauges of the node's /metrics.
func scrape(addr string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
