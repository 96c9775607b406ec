package node_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ops"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// TestStatefulRollback: a system after the running totals fails once on
// one partition, after the totals already counted it. The node rolls the
// state back to the last checkpoint and redelivers what came after it, so
// the totals still count every partition exactly once.
func TestStatefulRollback(t *testing.T) {
	b := standalone(t)
	cfg := fleetConfig(t, b.ClientURL(), 0)
	pc := &cfg.Pipelines[0]
	pc.Components = nil
	pc.Declared = []plan.ComponentConfig{{Name: "event", Fields: []string{"k: string", "v: int64"}}, {Name: "running", Fields: []string{"total: int64"}}}
	pc.Input.Component = "event"
	pc.Systems = []plan.UseConfig{
		{Use: "totals"},
		{Use: "flaky"},
	}
	pc.CheckpointInterval = plan.Duration(50e6)
	reg := plan.NewRegistry()
	var totals pcs.System // the instance the node runs
	reg.System("totals", func(o plan.Options) (pcs.System, error) {
		event, err := o.Component("event")
		if err != nil {
			return nil, err
		}
		running, err := o.Component("running")
		if err != nil {
			return nil, err
		}
		totals, err = ops.RunningTotals("totals", event, []string{"k"}, "v", running, "total")
		return totals, err
	})
	var failed atomic.Int64
	reg.System("flaky", func(o plan.Options) (pcs.System, error) {
		running, err := o.Component("running")
		if err != nil {
			return nil, err
		}
		total := pcs.MustField[*array.Int64](running, "total")
		return pcs.SystemFunc(pcs.Meta("flaky").Read(total, pcs.Resource[pcs.PartitionID]()), func(ctx context.Context, ds *pcs.Dataset) error {
			id, _ := pcs.GetResource[pcs.PartitionID](ds)
			if id == pcs.PartitionID(natsjs.PartitionID("src", 7)) && failed.Add(1) == 1 {
				return errors.New("flaky: the first attempt on src/7 fails")
			}
			return nil
		}), nil
	})
	startNode(t, cfg, reg)
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	pub, err := natsjs.NewPublisher(js, "in.p", natsjs.WithSourceID("src"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for p := 1; p <= 12; p++ {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := 0; i < 50; i++ {
			k := string(rune('a' + (p+i)%5))
			rb.Field(0).(*array.StringBuilder).Append(k)
			rb.Field(1).(*array.Int64Builder).Append(int64(p*100 + i))
			want[k] += float64(p*100 + i)
		}
		rec := rb.NewRecordBatch()
		rb.Release()
		if err := pub.Write(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := pub.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(context.Background(), cfg.Pipelines[0].Input.Stream, "p")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	if failed.Load() < 2 {
		t.Fatalf("src/7 ran %d times, want a failure and a retry", failed.Load())
	}
	got, err := ops.Totals(totals)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("total %s = %v, want %v", k, got[k], v)
		}
	}
}
