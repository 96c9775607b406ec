package files_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/files"
)

// Write a CSV file (it appears under its name only once complete), then
// open it by content and name, reading two of its columns.
func Example() {
	dir, _ := os.MkdirTemp("", "pcs-files-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "airports.csv")
	ctx := context.Background()

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "code", Type: arrow.BinaryTypes.String},
		{Name: "city", Type: arrow.BinaryTypes.String},
		{Name: "elevation", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"SEA", "DEN"}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"Seattle", "Denver"}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{433, 5434}, nil)
	rec := b.NewRecordBatch()
	b.Release()

	sink, err := files.Create(path, schema)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = sink.Write(ctx, rec)
	rec.Release()
	if err := sink.Close(ctx); err != nil {
		fmt.Println(err)
		return
	}

	format, _ := files.Sniff(path)
	fmt.Println("format:", format)
	src, err := files.Open(path, files.WithColumns("elevation", "code"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	err = transports.Each(ctx, src, func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			fmt.Println(rec.Column(1).ValueStr(i), rec.Column(0).ValueStr(i))
		}
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// format: csv
	// SEA 433
	// DEN 5434
	// err: <nil>
}
