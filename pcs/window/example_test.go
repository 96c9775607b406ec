package window_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/window"
)

func Example() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
		{Name: "origin", Type: arrow.BinaryTypes.String},
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	mem := memory.DefaultAllocator

	w, _ := window.ParseAssigner("tumbling(1h)")
	avg, _ := window.ParseAgg("avg(delay) as avg_delay")
	op, err := window.New(window.Spec{
		Time:            window.TimeSpec{Column: "date"},
		Assigner:        w,
		OutOfOrderness:  10 * time.Minute,
		AllowedLateness: 2 * time.Hour,
		Keys:            []string{"origin"},
		Aggs:            []window.Agg{avg, {Func: "max", Column: "delay"}, {Func: "count"}},
	}, schema, mem)
	if err != nil {
		panic(err)
	}

	batch := func(ts []int64, origins []string, delays []int64) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		for i := range ts {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(ts[i]))
		}
		b.Field(1).(*array.StringBuilder).AppendValues(origins, nil)
		b.Field(2).(*array.Int64Builder).AppendValues(delays, nil)
		return b.NewRecordBatch()
	}
	ctx := context.Background()
	run := func(out window.Output, err error) {
		if err != nil {
			panic(err)
		}
		defer out.Release()
		if out.Results != nil {
			for i := 0; i < int(out.Results.NumRows()); i++ {
				fmt.Println(resultRow(out.Results, i))
			}
		}
		if out.Late != nil {
			fmt.Println("late rows:", out.Late.NumRows())
		}
	}
	const h = 3600
	rec := batch([]int64{0, 600, 1200, h + 60}, []string{"JFK", "LAX", "JFK", "JFK"}, []int64{10, 5, 30, 0})
	run(op.Process(ctx, "producer-1", rec)) // watermark 0:51: nothing fires
	rec.Release()
	rec = batch([]int64{2*h + 900, 1800}, []string{"LAX", "JFK"}, []int64{7, 2})
	run(op.Process(ctx, "producer-1", rec)) // watermark 2:05: hours 0 and 1 fire
	rec.Release()
	rec = batch([]int64{1500}, []string{"LAX"}, []int64{20})
	run(op.Process(ctx, "producer-1", rec)) // late but within the allowed lateness: an update
	rec.Release()
	run(op.Flush(ctx))
	rec = batch([]int64{3 * h}, []string{"JFK"}, []int64{1})
	run(op.Process(ctx, "producer-1", rec)) // after the final watermark every row is late
	rec.Release()
	fmt.Printf("%+v\n", op.Stats())
	// Output:
	// JFK 00:00-01:00 avg_delay=14 max_delay=30 count=3 update=false
	// LAX 00:00-01:00 avg_delay=5 max_delay=5 count=1 update=false
	// JFK 01:00-02:00 avg_delay=0 max_delay=0 count=1 update=false
	// LAX 00:00-01:00 avg_delay=12.5 max_delay=20 count=2 update=true
	// LAX 02:00-03:00 avg_delay=7 max_delay=7 count=1 update=false
	// late rows: 1
	// {Rows:8 LateRows:1 NullTimeRows:0 PartialRows:0 LatePartials:0 Results:4 Updates:1 Watermark:9223372036854775807}
}

func resultRow(rec arrow.RecordBatch, i int) string {
	hm := func(c int) string {
		return rec.Column(c).(*array.Timestamp).Value(i).ToTime(arrow.Millisecond).UTC().Format("15:04")
	}
	return fmt.Sprintf("%s %s-%s avg_delay=%v max_delay=%v count=%v update=%v",
		rec.Column(0).ValueStr(i), hm(1), hm(2), rec.Column(3).ValueStr(i), rec.Column(4).ValueStr(i),
		rec.Column(5).ValueStr(i), rec.Column(6).ValueStr(i))
}
