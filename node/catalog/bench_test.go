package catalog_test

// Benchmarks of the catalog issue. `make bench` (BENCH_PKGS=./node/catalog/)
// prints the group's variants side by side. Each variant records partition
// completions through Raft on disk (raft-wal, fsync per write batch) from
// many concurrent callers, as runners do, and reports:
//
//	completions/s      partitions recorded per second
//	p50-ms, p99-ms     latency of one RecordPartitions call
//	completions/entry  how many completions the leader coalesced per Raft entry

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/node/catalog/catalogtest"
)

var benchRun atomic.Int64

// benchCompletions records b.N completions from `workers` goroutines spread
// over nodes, perCall partitions per RecordPartitions call.
func benchCompletions(b *testing.B, nodes []*catalog.Catalog, leader *catalog.Catalog, workers, perCall int) {
	ctx := context.Background()
	run := benchRun.Add(1)
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	entries0 := leader.Raft().LastIndex()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			n := nodes[w%len(nodes)]
			recs := make([]catalog.PartitionRecord, perCall)
			for {
				i := int(next.Add(int64(perCall))) - perCall
				if i >= b.N {
					return
				}
				for k := range recs {
					recs[k] = done("bench", i+k, n.NodeID())
					recs[k].ID = fmt.Sprintf("r%d/%d", run, i+k)
				}
				t := time.Now()
				if err := n.RecordPartitions(ctx, recs...); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	entries := max(1, leader.Raft().LastIndex()-entries0)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "completions/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/float64(entries), "completions/entry")
}

// BenchmarkCatalogCompletions: partition completions through Raft on disk.
// Variants: single node or 3 nodes on loopback TCP (callers spread over all
// three, followers forward over in-process NATS); c<N> concurrent callers;
// b<K> partitions per call (a runner batching its completions).
func BenchmarkCatalogCompletions(b *testing.B) {
	br := brokertest.Start(b)

	s := catalogtest.Start(b, 1, catalogtest.WithTCP(), natsForwarders(br, "solo"), withIDs("solo")).Node(0)
	cl := catalogtest.Start(b, 3, catalogtest.WithTCP(), natsForwarders(br, "three"), withIDs("b1", "b2", "b3"))
	three, leader := cl.Nodes(), cl.Leader(b)
	catalogtest.WaitFor(b, 5*time.Second, "3 voters", func() bool { return len(leader.Status().Voters()) == 3 })

	for _, v := range []struct {
		name             string
		nodes            []*catalog.Catalog
		leader           *catalog.Catalog
		workers, perCall int
	}{
		{"single-c1-b1", []*catalog.Catalog{s}, s, 1, 1},
		{"single-c64-b1", []*catalog.Catalog{s}, s, 64, 1},
		{"single-c16-b16", []*catalog.Catalog{s}, s, 16, 16},
		{"3node-c64-b1", three, leader, 64, 1},
		{"3node-c16-b16", three, leader, 16, 16},
	} {
		b.Run(v.name, func(b *testing.B) { benchCompletions(b, v.nodes, v.leader, v.workers, v.perCall) })
	}
}
