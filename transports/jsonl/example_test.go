package jsonl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/jsonl"
)

// Read newline-delimited JSON with inferred types: score has integers
// then a float (float64), at holds RFC 3339 times with offsets
// (timestamp[us, tz=UTC]), and the nested object is kept as JSON text.
func Example() {
	dir, _ := os.MkdirTemp("", "pcs-jsonl-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.jsonl")
	os.WriteFile(path, []byte(
		`{"user": "ann", "score": 3, "at": "2026-11-01T08:00:00Z", "geo": {"lat": 47.6}}`+"\n"+
			`{"user": "bob", "score": 4.5, "at": "2026-11-01T10:30:00+01:00"}`+"\n"), 0o644)

	src, err := jsonl.NewSource(path)
	if err != nil {
		panic(err)
	}
	defer src.Close()
	for _, f := range src.Schema().Fields() {
		fmt.Printf("%s: %s\n", f.Name, f.Type)
	}
	rec, err := src.Read(context.Background())
	if err != nil {
		panic(err)
	}
	defer rec.Release()
	at := rec.Column(2).(*array.Timestamp)
	fmt.Println(rec.Column(1), at.ValueStr(0), at.ValueStr(1), rec.Column(3))
	// Output:
	// user: utf8
	// score: float64
	// at: timestamp[us, tz=UTC]
	// geo: utf8
	// [3 4.5] 2026-11-01T08:00:00Z 2026-11-01T09:30:00Z ["{\"lat\":47.6}" (null)]
}

// Write rows with a Sink and read them back with the same schema.
func ExampleNewSink() {
	dir, _ := os.MkdirTemp("", "pcs-jsonl-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "out.jsonl")
	ctx := context.Background()

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	tags := b.Field(1).(*array.ListBuilder)
	tags.Append(true)
	tags.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	tags.AppendNull()
	rec := b.NewRecordBatch()
	b.Release()

	sink, err := jsonl.NewSink(path, schema, jsonl.WithAtomicRename(true))
	if err != nil {
		panic(err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		panic(err)
	}
	rec.Release()
	if err := sink.Close(ctx); err != nil {
		panic(err)
	}
	data, _ := os.ReadFile(path)
	fmt.Print(string(data))

	src, err := jsonl.NewSource(path, jsonl.WithSchema(schema))
	if err != nil {
		panic(err)
	}
	defer src.Close()
	err = transports.Each(ctx, src, func(rec arrow.RecordBatch) error {
		fmt.Println(rec.Column(1))
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// {"id":1,"tags":["a","b"]}
	// {"id":2,"tags":null}
	// [["a" "b"] (null)]
}
