package window_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/window"
)

// TestObserve: a shard owner that merged a partial sees its window fire
// only once every source's watermark passed the end, including a source
// that sent no partial rows (Observe), and all at its final watermark.
func TestObserve(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	spec := window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(2*time.Second, 0),
		Aggs: []window.Agg{{Func: "sum", Column: "v", As: "s"}}}
	producer, err := window.New(spec, schema, mem)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := window.New(spec, schema, mem)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{100, 2500}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	part, err := producer.Partials(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer part.Release()
	ctx := context.Background()
	fired := func(out window.Output, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		if out.Results == nil {
			return 0
		}
		return out.Results.NumRows()
	}
	if n := fired(owner.Observe(ctx, "b", 0)); n != 0 { // source b is behind
		t.Fatalf("%d windows fired before any partial", n)
	}
	if n := fired(owner.MergePartials(ctx, "a", part.Results)); n != 0 {
		t.Fatalf("%d windows fired while source b is at 0", n)
	}
	if n := fired(owner.Observe(ctx, "b", 2100)); n != 1 { // both past 2000: window 0 fires
		t.Fatalf("%d windows fired at watermark 2100, want 1", n)
	}
	if n := fired(owner.Observe(ctx, "a", math.MaxInt64)); n != 0 { // b still at 2100
		t.Fatalf("%d windows fired with b at 2100, want 0", n)
	}
	if n := fired(owner.Observe(ctx, "b", math.MaxInt64)); n != 1 { // final: window 2000 fires
		t.Fatalf("%d windows fired at the final watermark, want 1", n)
	}
}
