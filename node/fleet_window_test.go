package node_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/pcs/window"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

var readingSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64}, {Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)

// fleetWindowConfig is node i of a fleet whose pipeline is a fleet
// window: sum(v) per key k per tumbling 2 s window of ts, over 3 shards.
// Three nodes process partitions in parallel, so their partials reach a
// shard out of order: the out-of-orderness bound (10 s, 10 partitions)
// covers that.
func fleetWindowConfig(t *testing.T, url string, i int) node.Config {
	cfg := fleetConfig(t, url, i)
	pc := &cfg.Pipelines[0]
	pc.Components = nil
	pc.Declared = []plan.ComponentConfig{{Name: "reading", Fields: []string{"ts: int64", "k: string", "v: int64"}}}
	pc.Input.Component = "reading"
	pc.Systems = []plan.UseConfig{{Use: "window", Options: map[string]any{"time": "ts", "window": "tumbling(2s)", "keys": []any{"k"},
		"aggregates": []any{"sum(v) as total", "count(*) as n"}, "out_of_orderness": "10s", "shards": int64(3)}}}
	pc.CheckpointInterval = plan.Duration(100 * time.Millisecond)
	return cfg
}

// readings is partition i: 50 rows with ts in [1000i, 1000i+999].
func readings(i int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, readingSchema)
	defer b.Release()
	for r := 0; r < 50; r++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i*1000 + r*20))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("k%d", (i+r)%7))
		b.Field(2).(*array.Int64Builder).Append(int64(i*100 + r))
	}
	return b.NewRecordBatch()
}

// TestFleetWindow runs a window aggregated across a three-node fleet:
// partials routed to three shards, each merged by the node the catalog
// assigned. Midway the owner of shard 0 stops; its shard moves to another
// node, which restores the checkpoint and replays the partials after it.
// The results equal one operator over all rows: no window/key missing or
// twice.
func TestFleetWindow(t *testing.T) {
	b := standalone(t)
	nodes := startFleet(t, 3, func(i int) node.Config { return fleetWindowConfig(t, b.ClientURL(), i) }, plan.DefaultRegistry())
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	ctx := context.Background()

	// The expected result: one operator over every row, flushed.
	op, err := window.New(window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(2*time.Second, 0),
		OutOfOrderness: 10 * time.Second, Keys: []string{"k"}, Aggs: []window.Agg{{Func: "sum", Column: "v", As: "total"}, {Func: "count", As: "n"}}},
		readingSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	collectWant := func(out window.Output, err error) {
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		addResults(want, out.Results)
	}
	pub, err := natsjs.NewPublisher(js, "in.p", natsjs.WithSourceID("src"))
	if err != nil {
		t.Fatal(err)
	}
	send := func(i int, final bool) {
		rec := readings(i)
		defer rec.Release()
		collectWant(op.Process(ctx, "src", rec))
		meta := natsjs.Meta{ID: natsjs.PartitionID("src", uint64(i+1))}
		if final {
			meta.Watermark = natsjs.EndOfInput
		}
		pending, err := pub.PublishAsync(ctx, []arrow.RecordBatch{rec}, meta)
		if err == nil {
			_, err = pending.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		send(i, false)
	}
	// Wait for shard 0's owner to checkpoint, then stop it.
	var owner *running
	waitFor(t, func() bool {
		st := nodes[0].Catalog().Status()
		ps, ok := st.Pipeline("p.window")
		if !ok || len(ps.Checkpoints) == 0 {
			return false
		}
		a, ok := nodes[0].Catalog().ShardOwner("p", 0)
		for _, n := range nodes {
			if ok && n.Status(ctx).Node == a.Node {
				owner = n
			}
		}
		return owner != nil
	})
	owner.stop(t)
	for i := 10; i < 20; i++ {
		send(i, i == 19)
	}
	collectWant(op.Flush(ctx))

	got := map[string]string{}
	dups := 0
	stream, err := js.Stream(ctx, "PCS_P_OUT")
	if err != nil {
		t.Fatal(err)
	}
	read := uint64(0)
	for deadline := time.Now().Add(30 * time.Second); len(got) < len(want) && time.Now().Before(deadline); {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.LastSeq == read {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for read < info.State.LastSeq {
			read++
			raw, err := stream.GetMsg(ctx, read)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := natsjs.Decode(raw.Data, nil) // small: inline, no claim check
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				before := len(got)
				n := addResults(got, rec)
				dups += n - (len(got) - before)
				rec.Release()
			}
		}
	}
	if dups != 0 {
		t.Errorf("%d window/key results arrived twice", dups)
	}
	if !maps.Equal(got, want) {
		keys := slices.Sorted(maps.Keys(want))
		for _, k := range keys {
			if got[k] != want[k] {
				t.Errorf("%s: got %q, want %q", k, got[k], want[k])
			}
		}
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
}

// addResults adds the result rows of rec (k, window_start, ..., total,
// n, is_update) to m, keyed "k@start"; updates are ignored (none here).
// It returns the rows seen.
func addResults(m map[string]string, rec arrow.RecordBatch) int {
	if rec == nil {
		return 0
	}
	k := rec.Column(0).(*array.String)
	start := rec.Column(1).(*array.Timestamp)
	total := rec.Column(3).(*array.Int64)
	n := rec.Column(4).(*array.Int64)
	for i := 0; i < int(rec.NumRows()); i++ {
		m[fmt.Sprintf("%s@%d", k.Value(i), start.Value(i))] = fmt.Sprintf("%d/%d", total.Value(i), n.Value(i))
	}
	return int(rec.NumRows())
}
