package growth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Checks of issue 15 item 5.
const (
	// flatRatio bounds ns/row at 30M rows over ns/row at 3M rows.
	flatRatio = 1.2
	// rssRatio and rssSlackMB bound the node's peak RSS at 30M rows:
	// at most rssRatio times 3M's plus rssSlackMB. The slack is one
	// pull of the node's delivery loop (fetch_max_bytes, 16 MiB: the
	// partitions fetched and not yet decoded) plus as much again for
	// the GC's heap target (GOGC=100 lets the heap reach twice the live
	// partitions, whose number at a given moment is a matter of timing).
	rssRatio   = 1.2
	rssSlackMB = 32.0
)

// growthCase is one measurement: rows of input cut into part-row
// partitions, through pcs-node's embedded broker or, with ext, through
// an external broker process (`pcs broker`).
type growthCase struct {
	rows, part int64
	ext        bool
}

func (c growthCase) name() string {
	n := fmt.Sprintf("rows=%s/part=%s", count(c.rows), count(c.part))
	if c.ext {
		n = "ext/" + n
	}
	return n
}

// count writes n as 0.3M, 3M, 30M, 4k, 256k.
func count(n int64) string {
	switch {
	case n >= 100_000 && n%100_000 == 0:
		return trimZero(fmt.Sprintf("%.1fM", float64(n)/1e6))
	case n >= 1024 && n%1024 == 0:
		return fmt.Sprintf("%dk", n/1024)
	}
	return fmt.Sprint(n)
}

func trimZero(s string) string {
	if len(s) > 3 && s[len(s)-3:] == ".0M" {
		return s[:len(s)-3] + "M"
	}
	return s
}

// growthCases in the order they run: the 16k-row partitions first
// (embedded, then external broker), so that one base serves the six
// cases, and 3M before 30M.
var growthCases = []growthCase{
	{300_000, 16 << 10, false}, {3_000_000, 16 << 10, false}, {30_000_000, 16 << 10, false},
	{300_000, 16 << 10, true}, {3_000_000, 16 << 10, true}, {30_000_000, 16 << 10, true},
	{3_000_000, 4 << 10, false}, {3_000_000, 64 << 10, false}, {3_000_000, 256 << 10, false},
}

// measured is what a case reports.
type measured struct {
	rowsPerSec, nsPerRow, rssMB float64
	cpuPerRow                   float64 // the node's CPU time per row, ns
	brokerRSSMB                 float64 // the external broker's peak RSS (0: embedded)
}

// findData returns the flights Parquet file and airports.csv.
func findData() (flights, airports string, ok bool) {
	flights, airports = os.Getenv("PCS_FLIGHTS"), os.Getenv("PCS_AIRPORTS")
	if flights != "" && airports != "" {
		return flights, airports, true
	}
	for _, d := range []string{os.Getenv("PCS_DATA_DIR"), filepath.Join("..", "..", "..", "shared", "data")} {
		f, a := filepath.Join(d, "flights-3m.parquet"), filepath.Join(d, "airports.csv")
		if _, err := os.Stat(f); d != "" && err == nil {
			if _, err := os.Stat(a); err == nil {
				abs, _ := filepath.Abs(f)
				absA, _ := filepath.Abs(a)
				return abs, absA, true
			}
		}
	}
	return "", "", false
}

// BenchmarkGrowth: see the package doc. Sub-benchmarks
// rows=<n>/part=<p> report rows/s and ns/row (wall clock, first publish
// to last output row), RSS-MB (the node's peak), node-CPU-ns/row (the
// node's user+system CPU time per row: less sensitive than the wall
// clock to the other work on a shared machine), bench-RSS-MB and
// bench-CPU-ns/row (this process: publisher and consumer), parts
// (partitions per run) and, at 30M rows, ns/row-x3M, RSS-x3M and
// CPU-x3M (the ratios to 3M rows, both with 16k-row partitions, same
// topology). Sub-benchmarks ext/rows=<n>/part=16k (external broker) also
// report broker-RSS-MB and broker-CPU-ns/row (the `pcs broker`
// process's peak RSS and CPU time per row); their RSS-MB and
// node-CPU-ns/row are then the node's alone. The checks are printed on
// stdout as lines starting with "growth:", per topology.
func BenchmarkGrowth(b *testing.B) {
	flights, airports, ok := findData()
	if !ok {
		b.Skip("flights-3m.parquet and airports.csv not found (PCS_FLIGHTS and PCS_AIRPORTS, PCS_DATA_DIR or ../shared/data)")
	}
	ctx := context.Background()
	started := time.Now()
	tmp := b.TempDir()
	bins, err := Build(ctx, filepath.Join("..", ".."), tmp)
	if err != nil {
		b.Fatal(err)
	}
	toml, err := os.ReadFile(filepath.Join("..", "..", "examples", "flights", "node.toml"))
	if err != nil {
		b.Fatal(err)
	}
	cfgText, err := NodeConfig(string(toml))
	if err != nil {
		b.Fatal(err)
	}
	config := filepath.Join(tmp, "node.toml")
	if err := os.WriteFile(config, []byte(cfgText), 0o644); err != nil {
		b.Fatal(err)
	}

	var base *Base
	var basePart int64
	defer func() {
		if base != nil {
			base.Release()
		}
	}()
	results := map[growthCase]measured{}
	for _, c := range growthCases {
		b.Run(c.name(), func(b *testing.B) {
			if base == nil || basePart != c.part {
				if base != nil {
					base.Release()
				}
				if base, err = LoadBase(ctx, flights, c.part); err != nil {
					b.Fatal(err)
				}
				basePart = c.part
			}
			m := runCase(b, c, base, bins, config, airports)
			results[c] = m
			if c.rows == 30_000_000 {
				if ref, ok := results[growthCase{3_000_000, c.part, c.ext}]; ok {
					b.ReportMetric(m.nsPerRow/ref.nsPerRow, "ns/row-x3M")
					b.ReportMetric(m.rssMB/ref.rssMB, "RSS-x3M")
					b.ReportMetric(m.cpuPerRow/ref.cpuPerRow, "CPU-x3M")
				}
			}
		})
	}
	summarize(b, results)
	fmt.Printf("growth: the growth benchmark took %v (load average at the end %s)\n", time.Since(started).Round(time.Second), loadAverage())
}

// runCase runs case c on a fresh pcs-node (and, for an external case, a
// fresh `pcs broker`): b.N runs of c.rows rows, each with its own source
// id, the outputs checked after each.
func runCase(b *testing.B, c growthCase, base *Base, bins Binaries, config, airports string) measured {
	ctx := context.Background()
	work := b.TempDir()
	var brk *Broker
	if c.ext {
		var err error
		if brk, err = StartBroker(ctx, bins.PCS, work, strings.Fields(os.Getenv("PCS_GROWTH_BROKER_ENV"))...); err != nil {
			b.Fatal(err)
		}
		defer brk.Kill()
		text, err := os.ReadFile(config)
		if err != nil {
			b.Fatal(err)
		}
		ext, err := ExternalConfig(string(text), brk.URL)
		if err != nil {
			b.Fatal(err)
		}
		config = filepath.Join(work, "node.toml")
		if err := os.WriteFile(config, []byte(ext), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	env := append([]string{"PCS_AIRPORTS=" + airports, "PCS_LOG_LEVEL=warn"}, strings.Fields(os.Getenv("PCS_GROWTH_NODE_ENV"))...)
	brokerURL := ""
	if brk != nil {
		brokerURL = brk.URL
	}
	node, err := StartNode(ctx, bins.Node, config, work, brokerURL, env...)
	if err != nil {
		b.Fatal(err)
	}
	defer node.Kill()
	sess, err := OpenSession(ctx, node.NATS)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	if err := resetPeakRSS(); err != nil {
		b.Logf("cannot reset this process's peak RSS: %v", err)
	}
	if os.Getenv("PCS_GROWTH_TRACE") != "" {
		tctx, stop := context.WithCancel(ctx)
		defer stop()
		go Trace(tctx, node, sess.js, time.Second, b.Logf)
	}
	nodeCPU0, err := node.CPU()
	if err != nil {
		b.Fatal(err)
	}
	ownCPU0, _ := processCPU(os.Getpid())
	var brkCPU0 time.Duration
	if brk != nil {
		if brkCPU0, err = brk.CPU(); err != nil {
			b.Fatal(err)
		}
	}
	var total time.Duration
	var rows int64
	parts, runs := 0, 0
	for b.Loop() {
		res, err := sess.Run(ctx, base, c.rows, fmt.Sprintf("growth-%d", runs))
		if err != nil {
			b.Fatalf("%v (node log %s)", err, node.Log)
		}
		b.StopTimer()
		runs++
		total += res.Elapsed
		rows += res.Rows
		parts = res.Partitions
		if runs == 1 {
			b.Logf("run 1: %d rows in %d partitions published in %v, output consumed in %v",
				res.Rows, res.Partitions, res.Published.Round(time.Millisecond), res.Elapsed.Round(time.Millisecond))
		}
		b.StartTimer()
	}
	b.StopTimer()
	rss, err := node.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	own, _ := statusBytes(0, "VmHWM")
	nodeCPU1, err := node.CPU()
	if err != nil {
		b.Fatal(err)
	}
	ownCPU1, _ := processCPU(os.Getpid())
	var brkRSS int64
	var brkCPU1 time.Duration
	if brk != nil {
		if brkRSS, err = brk.PeakRSS(); err != nil {
			b.Fatal(err)
		}
		if brkCPU1, err = brk.CPU(); err != nil {
			b.Fatal(err)
		}
	}
	sess.Close()
	if err := node.Stop(30 * time.Second); err != nil {
		b.Error(err)
	}
	if brk != nil {
		if err := brk.Stop(30 * time.Second); err != nil {
			b.Error(err)
		}
	}
	m := measured{
		rowsPerSec:  float64(rows) / total.Seconds(),
		nsPerRow:    float64(total.Nanoseconds()) / float64(rows),
		rssMB:       float64(rss) / (1 << 20),
		cpuPerRow:   float64(nodeCPU1-nodeCPU0) / float64(rows),
		brokerRSSMB: float64(brkRSS) / (1 << 20),
	}
	b.ReportMetric(m.rowsPerSec, "rows/s")
	b.ReportMetric(m.nsPerRow, "ns/row")
	b.ReportMetric(m.rssMB, "RSS-MB")
	b.ReportMetric(float64(own)/(1<<20), "bench-RSS-MB")
	b.ReportMetric(float64(parts), "parts")
	b.ReportMetric(m.cpuPerRow, "node-CPU-ns/row")
	b.ReportMetric(float64(ownCPU1-ownCPU0)/float64(rows), "bench-CPU-ns/row")
	if brk != nil {
		b.ReportMetric(m.brokerRSSMB, "broker-RSS-MB")
		b.ReportMetric(float64(brkCPU1-brkCPU0)/float64(rows), "broker-CPU-ns/row")
	}
	return m
}

// summarize prints the checks (on stdout, beside the benchmark
// lines, since a parent benchmark's log is shown only with -v) and
// writes the plot.
func summarize(b *testing.B, results map[growthCase]measured) {
	for _, ext := range []bool{false, true} {
		small, okS := results[growthCase{3_000_000, 16 << 10, ext}]
		big, okB := results[growthCase{30_000_000, 16 << 10, ext}]
		if !okS || !okB {
			continue
		}
		topo := "embedded broker"
		if ext {
			topo = "external broker"
		}
		flat := big.nsPerRow / small.nsPerRow
		limit := rssRatio*small.rssMB + rssSlackMB
		fmt.Printf("growth: %s: time per row 30M/3M rows (16k partitions): %.0f / %.0f ns = %.2fx (target <= %.1fx): %s; pcs-node CPU per row %.0f / %.0f ns = %.2fx\n",
			topo, big.nsPerRow, small.nsPerRow, flat, flatRatio, met(flat <= flatRatio), big.cpuPerRow, small.cpuPerRow, big.cpuPerRow/small.cpuPerRow)
		fmt.Printf("growth: %s: pcs-node peak RSS 30M/3M rows: %.0f / %.0f MB (target <= %.1fx + %.0f MB = %.0f MB): %s\n",
			topo, big.rssMB, small.rssMB, rssRatio, rssSlackMB, limit, met(big.rssMB <= limit))
		if ext {
			fmt.Printf("growth: %s: broker peak RSS 30M/3M rows: %.0f / %.0f MB (%.2fx; not a target: the broker's caches)\n",
				topo, big.brokerRSSMB, small.brokerRSSMB, big.brokerRSSMB/small.brokerRSSMB)
		}
	}
	var points []Point
	for _, part := range []int64{4 << 10, 16 << 10, 64 << 10, 256 << 10} {
		if m, ok := results[growthCase{3_000_000, part, false}]; ok {
			points = append(points, Point{Label: count(part), RowsPerSec: m.rowsPerSec})
		}
	}
	if path := os.Getenv("PCS_BENCH_PLOT"); path != "" && len(points) > 0 {
		title := fmt.Sprintf("pcs-node, flights pipeline, 3M rows (%s, load average %s)", time.Now().UTC().Format("2006-01-02"), loadAverage())
		if err := WritePlot(path, title, points); err != nil {
			b.Error(err)
		} else {
			fmt.Printf("growth: wrote %s\n", path)
		}
	}
}

// loadAverage returns the 1-minute load average from /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}
