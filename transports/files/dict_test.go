package files_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/files"
)

// dictSchema has dictionary columns as pcs run's partitions carry them
// (the flights pipeline's city and state): utf8 values with int16 and
// int32 indices, and one int64 column.
var dictSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "city", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "state", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
}, nil)

// dictBatch builds a batch whose dictionaries hold only the values it
// uses, in the order they first appear, so that consecutive batches have
// different dictionaries (overlapping, reordered, new values, and one
// batch all null).
func dictBatch(t *testing.T, mem memory.Allocator, first int, cities, states []string) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, dictSchema)
	defer b.Release()
	for i := range cities {
		b.Field(0).(*array.Int64Builder).Append(int64(first + i))
		for j, v := range []string{cities[i], states[i]} {
			db := b.Field(1 + j).(*array.BinaryDictionaryBuilder)
			if v == "" {
				db.AppendNull()
			} else if err := db.AppendString(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.NewRecordBatch()
}

// dictBatches returns the batches of TestDictionaryChanges.
func dictBatches(t *testing.T, mem memory.Allocator) []arrow.RecordBatch {
	return []arrow.RecordBatch{
		dictBatch(t, mem, 0, []string{"Seattle", "Denver", "Seattle", ""}, []string{"WA", "CO", "WA", "CO"}),
		dictBatch(t, mem, 4, []string{"Boston", "Seattle", "Austin"}, []string{"MA", "", "TX"}),
		dictBatch(t, mem, 7, []string{"", ""}, []string{"", ""}),
		dictBatch(t, mem, 9, nil, nil), // no rows
		dictBatch(t, mem, 9, []string{"Denver", "Boston", "Denver", "Miami"}, []string{"CO", "MA", "CO", "FL"}),
		dictBatch(t, mem, 13, []string{"Seattle"}, []string{"WA"}),
		sliced(dictBatch(t, mem, 14, []string{"Reno", "Tulsa", "", "Omaha", "Reno"}, []string{"NV", "OK", "", "NE", "NV"}), 1, 4),
	}
}

// sliced returns rows [i, j) of rec (its buffers at an offset) and
// releases rec.
func sliced(rec arrow.RecordBatch, i, j int64) arrow.RecordBatch {
	defer rec.Release()
	return rec.NewSlice(i, j)
}

// TestDictionaryChanges writes batches whose dictionaries differ from
// one batch to the next to every file sink and reads the file back: the
// rows (dictionary columns compared by value) are equal. The Arrow IPC
// file format allows one dictionary per column, so its sink must unify
// them; Parquet, the Arrow stream format (dictionary replacement), CSV
// and JSONL (values) must keep the values right too.
func TestDictionaryChanges(t *testing.T) {
	for _, name := range []string{"d.arrow", "d.arrows", "d.parquet", "d.csv", "d.jsonl"} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), name)
			in := dictBatches(t, mem)
			defer release(in)
			sink, err := files.Create(path, dictSchema, files.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			for i, rec := range in {
				if err := sink.Write(ctx, rec); err != nil {
					t.Fatalf("write batch %d: %v", i, err)
				}
			}
			if err := sink.Close(ctx); err != nil {
				t.Fatalf("close: %v", err)
			}

			src, err := files.Open(path, files.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got := readAll(t, src)
			defer release(got)
			want := rowStrings(in)
			if g := rowStrings(got); !slices.Equal(g, want) {
				t.Fatalf("rows differ:\n got %q\nwant %q", g, want)
			}
			if len(want) != 17 {
				t.Fatalf("test data: %d rows", len(want))
			}
		})
	}
}
