package arrowfile_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/arrowfile"
)

// FuzzSource feeds arbitrary bytes to NewSource and Read: they must
// return errors, never panic, and never leak allocator memory. Seeds are
// valid files and streams (plain, compressed, with a dictionary).
func FuzzSource(f *testing.F) {
	dir := f.TempDir()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "d", Type: dt, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, []bool{true, false, true})
	db := b.Field(1).(*array.BinaryDictionaryBuilder)
	_ = db.AppendString("a")
	_ = db.AppendString("b")
	db.AppendNull()
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	for i, opts := range [][]arrowfile.SinkOption{
		nil,
		{arrowfile.WithFormat(arrowfile.FormatStream)},
		{arrowfile.WithCompression(arrowfile.CodecLZ4)},
		{arrowfile.WithFormat(arrowfile.FormatStream), arrowfile.WithCompression(arrowfile.CodecZstd)},
	} {
		p := filepath.Join(dir, "seed"+string(rune('0'+i)))
		sink, err := arrowfile.NewSink(p, sc, opts...)
		if err != nil {
			f.Fatal(err)
		}
		if err := sink.Write(context.Background(), rec); err != nil {
			f.Fatal(err)
		}
		if err := sink.Close(context.Background()); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("ARROW1"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0})

	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		p := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := arrowfile.NewSource(p, arrowfile.WithAllocator(mem))
		if err != nil {
			return
		}
		defer src.Close()
		for i := 0; i < 100; i++ {
			rec, err := src.Read(context.Background())
			if err != nil {
				return
			}
			rec.Release()
		}
	})
}
