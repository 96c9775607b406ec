package node_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

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

// windowCheck publishes readings partitions to a fleet window pipeline
// ("in.p", source "src") and keeps the expected results: one operator
// over every row, as if on one node.
type windowCheck struct {
	t    *testing.T
	js   jetstream.JetStream
	op   *window.Operator
	pub  *natsjs.Publisher
	want map[string]string
}

func newWindowCheck(t *testing.T, js jetstream.JetStream) *windowCheck {
	op, err := window.New(window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(2*time.Second, 0),
		OutOfOrderness: 10 * time.Second, Keys: []string{"k"}, Aggs: []window.Agg{{Func: "sum", Column: "v", As: "total"}, {Func: "count", As: "n"}}},
		readingSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := natsjs.NewPublisher(js, "in.p", natsjs.WithSourceID("src"))
	if err != nil {
		t.Fatal(err)
	}
	return &windowCheck{t: t, js: js, op: op, pub: pub, want: map[string]string{}}
}

func (w *windowCheck) expect(out window.Output, err error) {
	if err != nil {
		w.t.Fatal(err)
	}
	defer out.Release()
	addResults(w.want, out.Results)
}

// send publishes partition i (the last one with the end-of-input
// watermark when final).
func (w *windowCheck) send(i int, final bool) {
	ctx := context.Background()
	rec := readings(i)
	defer rec.Release()
	w.expect(w.op.Process(ctx, "src", rec))
	// The producer declares its watermark: the rows' largest ts.
	meta := natsjs.Meta{ID: natsjs.PartitionID("src", uint64(i+1)), Watermark: time.UnixMilli(int64(i*1000 + 980)).UTC()}
	if final {
		meta.Watermark = natsjs.EndOfInput
		defer func() { w.expect(w.op.Flush(ctx)) }()
	}
	pending, err := w.pub.PublishAsync(ctx, []arrow.RecordBatch{rec}, meta)
	if err == nil {
		_, err = pending.Wait(ctx)
	}
	if err != nil {
		w.t.Fatal(err)
	}
}

// verify reads the sink stream until every expected window/key arrived
// (30 s at most) and fails on any missing, different or repeated.
func (w *windowCheck) verify() {
	t, ctx := w.t, context.Background()
	got := map[string]string{}
	dups := 0
	stream, err := w.js.Stream(ctx, "PCS_P_OUT")
	if err != nil {
		t.Fatal(err)
	}
	read := uint64(0)
	for deadline := time.Now().Add(30 * time.Second); len(got) < len(w.want) && time.Now().Before(deadline); {
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
			if raw.Header.Get(natsjs.HeaderFence) != "" {
				continue // a result's fence
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
	if !maps.Equal(got, w.want) {
		for _, k := range slices.Sorted(maps.Keys(w.want)) {
			if got[k] != w.want[k] {
				t.Errorf("%s: got %q, want %q", k, got[k], w.want[k])
			}
		}
		t.Fatalf("%d results, want %d", len(got), len(w.want))
	}
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
	ctx := context.Background()
	w := newWindowCheck(t, jsOf(t, nc))
	for i := 0; i < 10; i++ {
		w.send(i, false)
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
		w.send(i, i == 19)
	}
	w.verify()
}

// TestFleetWindowRebalanceAndTrim: a node alone owns every shard; two
// nodes join mid-stream and the shards spread over the three (each owns
// one), handed over through checkpoints without a result missing or
// twice; and the partials every shard's checkpoint covers are trimmed from
// the partials stream.
func TestFleetWindowRebalanceAndTrim(t *testing.T) {
	b := standalone(t)
	config := func(i int) node.Config { return fleetWindowConfig(t, b.ClientURL(), i) }
	first := startFleet(t, 1, config, plan.DefaultRegistry())[0]
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	w := newWindowCheck(t, js)
	for i := 0; i < 10; i++ {
		w.send(i, false)
	}
	waitFor(t, func() bool { // the watermark of the partitions done so far
		wm, ok := first.Catalog().Watermark("p")
		return ok && wm >= 980 && wm <= 9980
	})
	for i := 1; i < 3; i++ {
		startNode(t, config(i), plan.DefaultRegistry())
	}
	waitFor(t, func() bool { // one shard per node
		owners := map[string]bool{}
		for s := 0; s < 3; s++ {
			if a, ok := first.Catalog().ShardOwner("p", s); ok {
				owners[a.Node] = true
			}
		}
		return len(owners) == 3
	})
	for i := 10; i < 20; i++ {
		w.send(i, i == 19)
	}
	w.verify()
	ctx := context.Background()
	waitFor(t, func() bool {
		s, err := js.Stream(ctx, natsjs.PartialsStream("PCS_P_IN"))
		return err == nil && s.CachedInfo().State.FirstSeq > 1
	})
	// The catalog recorded the producer's watermarks, up to its end of
	// input.
	waitFor(t, func() bool {
		wm, ok := first.Catalog().Watermark("p")
		return ok && wm == math.MaxInt64
	})
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
