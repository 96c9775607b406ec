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

// Average price per symbol per calendar year (stocks.csv): a
// "tumbling(1y)" window starts on January 1st 00:00 UTC; a row at exactly
// midnight of New Year belongs to the new year.
func Example_calendarYears() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "date", Type: arrow.FixedWidthTypes.Date32},
		{Name: "symbol", Type: arrow.BinaryTypes.String},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	mem := memory.DefaultAllocator
	years, _ := window.ParseAssigner("tumbling(1y)")
	avg, _ := window.ParseAgg("avg(price) as avg_price")
	op, err := window.New(window.Spec{Time: window.TimeSpec{Column: "date"}, Assigner: years,
		Keys: []string{"symbol"}, Aggs: []window.Agg{avg}}, schema, mem)
	if err != nil {
		panic(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, r := range []struct {
		date   string
		symbol string
		price  float64
	}{
		{"2023-06-30", "IBM", 130}, {"2023-12-31", "IBM", 140}, {"2024-01-01", "IBM", 160},
		{"2023-03-01", "AAPL", 150}, {"2024-02-29", "AAPL", 180}, {"2024-12-31", "AAPL", 250},
	} {
		d, _ := time.Parse(time.DateOnly, r.date)
		b.Field(0).(*array.Date32Builder).Append(arrow.Date32FromTime(d))
		b.Field(1).(*array.StringBuilder).Append(r.symbol)
		b.Field(2).(*array.Float64Builder).Append(r.price)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	ctx := context.Background()
	for _, step := range []func() (window.Output, error){
		func() (window.Output, error) { return op.Process(ctx, "stocks.csv", rec) },
		func() (window.Output, error) { return op.Flush(ctx) },
	} {
		out, err := step()
		if err != nil {
			panic(err)
		}
		if res := out.Results; res != nil {
			for i := 0; i < int(res.NumRows()); i++ {
				day := func(c int) string {
					return res.Column(c).(*array.Timestamp).Value(i).ToTime(arrow.Millisecond).Format(time.DateOnly)
				}
				fmt.Printf("%s [%s, %s) avg_price=%s\n", res.Column(0).ValueStr(i), day(1), day(2), res.Column(3).ValueStr(i))
			}
		}
		out.Release()
	}
	// Output:
	// IBM [2023-01-01, 2024-01-01) avg_price=135
	// AAPL [2023-01-01, 2024-01-01) avg_price=150
	// IBM [2024-01-01, 2025-01-01) avg_price=160
	// AAPL [2024-01-01, 2025-01-01) avg_price=215
}
