package parquet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
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
	err = transports.Each(ctx, src, func(rec arrow.RecordBatch) error {
		fmt.Println(rec.Column(0))
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// rows: 3 columns: delay
	// [-3 (null) 42]
}

// Write Hive-style partition directories, then read one file back with
// its partition column.
func ExampleWithPartitionBy() {
	root, _ := os.MkdirTemp("", "pcs-parquet-partitions")
	defer os.RemoveAll(root)
	ctx := context.Background()

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "origin", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"SEA", "SFO/OAK", "SEA", "", "JFK"}, []bool{true, true, true, false, true})
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{-3, 0, 42, 7, 5}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	sink, err := parquet.NewSink(filepath.Join(root, "part.parquet"), schema, parquet.WithPartitionBy("origin"))
	if err != nil {
		panic(err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		panic(err)
	}
	if err := sink.Close(ctx); err != nil {
		panic(err)
	}
	for _, f := range sink.Files() {
		rel, _ := filepath.Rel(root, f)
		fmt.Println(filepath.ToSlash(rel))
	}

	src, err := parquet.NewSource(filepath.Join(root, "origin=SEA", "part-00000.parquet"), parquet.WithHivePartitioning(true))
	if err != nil {
		panic(err)
	}
	defer src.Close()
	got, err := src.Read(ctx)
	if err != nil {
		panic(err)
	}
	defer got.Release()
	for i, col := range got.Columns() {
		fmt.Println(got.ColumnName(i), col)
	}
	// Output:
	// origin=JFK/part-00000.parquet
	// origin=SEA/part-00000.parquet
	// origin=SFO%2FOAK/part-00000.parquet
	// origin=__HIVE_DEFAULT_PARTITION__/part-00000.parquet
	// delay [-3 42]
	// origin ["SEA" "SEA"]
}
