package parquet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/parquet"
)

// Write a file, then read one column of it back.
func Example() {
	dir, _ := os.MkdirTemp("", "pcs-parquet-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "flights.parquet")
	ctx := context.Background()

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "origin", Type: arrow.BinaryTypes.String},
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"SEA", "SFO", "JFK"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{-3, 0, 42}, []bool{true, false, true})
	rec := b.NewRecordBatch()
	b.Release()

	sink, err := parquet.NewSink(path, schema, parquet.WithCompression(parquet.CodecZstd))
	if err != nil {
		panic(err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		panic(err)
	}
	rec.Release() // the sink retained what it buffers
	if err := sink.Close(ctx); err != nil {
		panic(err)
	}

	src, err := parquet.NewSource(path, parquet.WithColumns("delay"))
	if err != nil {
		panic(err)
	}
	defer src.Close()
	fmt.Println("rows:", src.NumRows(), "columns:", src.Schema().Field(0).Name)
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(rec.Column(0))
		rec.Release()
	}
	// Output:
	// rows: 3 columns: delay
	// [-3 (null) 42]
}
