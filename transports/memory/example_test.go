package memory_test

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowmem "github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/memory"
)

// Copy batches from an in-memory Source to an in-memory Sink and look
// at what was collected.
func Example() {
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(arrowmem.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	first := b.NewRecordBatch()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{4}, nil)
	second := b.NewRecordBatch()
	b.Release()

	src, err := memory.NewSource([]arrow.RecordBatch{first, second})
	if err != nil {
		panic(err)
	}
	first.Release() // the source retained them
	second.Release()
	defer src.Close()

	sink := memory.NewSink(schema)
	defer sink.Release()
	st, err := transports.Copy(context.Background(), sink, src, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("copied", st.Batches, "batches,", st.Rows, "rows; sink has", sink.Rows())
	for _, rec := range sink.Batches() {
		fmt.Println(rec.Column(0))
		rec.Release()
	}
	// Output:
	// copied 2 batches, 4 rows; sink has 4
	// [1 2 3]
	// [4]
}
