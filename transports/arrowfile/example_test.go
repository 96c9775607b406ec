package arrowfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
)

// Write an lz4-compressed Arrow IPC stream and read it back; the Source
// detects the format by itself.
func Example() {
	dir, _ := os.MkdirTemp("", "pcs-arrowfile-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "delays.arrows")
	ctx := context.Background()

	schema := arrow.NewSchema([]arrow.Field{{Name: "delay", Type: arrow.PrimitiveTypes.Int16, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int16Builder).AppendValues([]int16{5, -2, 0}, []bool{true, true, false})
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	sink, err := arrowfile.NewSink(path, schema,
		arrowfile.WithFormat(arrowfile.FormatStream), arrowfile.WithCompression(arrowfile.CodecLZ4))
	if err != nil {
		panic(err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		panic(err)
	}
	if err := sink.Close(ctx); err != nil {
		panic(err)
	}

	src, err := arrowfile.NewSource(path)
	if err != nil {
		panic(err)
	}
	defer src.Close()
	fmt.Println("format:", src.Format())
	err = transports.Each(ctx, src, func(got arrow.RecordBatch) error {
		fmt.Println(got.Column(0))
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// format: stream
	// [5 -2 (null)]
}
