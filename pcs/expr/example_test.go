package expr_test

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/expr"
)

func Example() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "distance", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "origin", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil)
	mem := memory.DefaultAllocator
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{20, -5, 0, 40}, []bool{true, true, false, true})
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1000, 300, 0, 2500}, nil)
	b.Field(2).(*array.LargeStringBuilder).AppendValues([]string{"JFK", "LAX", "SFO", "ORD"}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	filter, err := expr.Compile("delay > 15 and distance > 0", schema)
	if err != nil {
		panic(err)
	}
	derive := expr.MustCompile("delay * 1.5 + distance / 100", schema)
	fmt.Println(filter.Columns(), derive.Type())

	ctx := context.Background()
	kept, err := filter.Filter(ctx, rec, mem)
	if err != nil {
		panic(err)
	}
	defer kept.Release()
	score, err := derive.Eval(ctx, kept, mem)
	if err != nil {
		panic(err)
	}
	defer score.Release()
	fmt.Println(kept.Column(2), score)

	_, err = expr.Compile("origin + 1", schema)
	fmt.Println(err)
	// Output:
	// [delay distance] float64
	// ["JFK" "ORD"] [40 85]
	// expr: 1:8: operator + is not defined for large_utf8 and int64
}
