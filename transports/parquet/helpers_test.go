package parquet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
)

// testSchema has one column per type the round trips cover. Column "id"
// is the global row number and never null; the others derive from it and
// have nulls at different periods.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "sec", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Europe/Paris"}, Nullable: true},
	{Name: "u", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date64, Nullable: true},
	{Name: "tod", Type: arrow.FixedWidthTypes.Time32s, Nullable: true},
}, nil)

var baseTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func isNull(row int64, period int64) bool { return row%period == period-1 }

// makeBatch returns rows [start, start+n) of the test data.
func makeBatch(mem memory.Allocator, start, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for r := start; r < start+n; r++ {
		b.Field(0).(*array.Int64Builder).Append(r)
		if isNull(r, 11) {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Float64Builder).Append(float64(r) * 0.5)
		}
		if isNull(r, 5) {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("s%d", r))
		}
		if isNull(r, 3) {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.BooleanBuilder).Append(r%2 == 0)
		}
		if isNull(r, 13) {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(baseTime.Add(time.Duration(r) * time.Millisecond).UnixMicro()))
		}
		if isNull(r, 17) {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(baseTime.Unix() + r))
		}
		if isNull(r, 19) {
			b.Field(6).AppendNull()
		} else {
			b.Field(6).(*array.Uint32Builder).Append(uint32(r) * 3)
		}
		if isNull(r, 23) {
			b.Field(7).AppendNull()
		} else {
			b.Field(7).(*array.Date64Builder).Append(arrow.Date64(r * 86_400_000))
		}
		if isNull(r, 29) {
			b.Field(8).AppendNull()
		} else {
			b.Field(8).(*array.Time32Builder).Append(arrow.Time32(r % 86_400))
		}
	}
	return b.NewRecordBatch()
}

// checkRows verifies every column of rec against the generator, using
// the id column, and returns the ids in order. rec may be a projection:
// columns are found by name.
func checkRows(t *testing.T, rec arrow.RecordBatch) []int64 {
	t.Helper()
	col := func(name string) arrow.Array {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil
		}
		return rec.Column(idx[0])
	}
	idc := col("id")
	if idc == nil {
		t.Fatalf("batch has no id column: %s", rec.Schema())
	}
	ids := idc.(*array.Int64).Int64Values()
	for k, r := range ids {
		if c := col("f"); c != nil {
			a := c.(*array.Float64)
			if a.IsNull(k) != isNull(r, 11) || (!a.IsNull(k) && a.Value(k) != float64(r)*0.5) {
				t.Fatalf("row %d: f = %v (null %v)", r, a.Value(k), a.IsNull(k))
			}
		}
		if c := col("s"); c != nil {
			a := c.(*array.String)
			if a.IsNull(k) != isNull(r, 5) || (!a.IsNull(k) && a.Value(k) != fmt.Sprintf("s%d", r)) {
				t.Fatalf("row %d: s = %q (null %v)", r, a.Value(k), a.IsNull(k))
			}
		}
		if c := col("b"); c != nil {
			a := c.(*array.Boolean)
			if a.IsNull(k) != isNull(r, 3) || (!a.IsNull(k) && a.Value(k) != (r%2 == 0)) {
				t.Fatalf("row %d: b = %v (null %v)", r, a.Value(k), a.IsNull(k))
			}
		}
		if c := col("ts"); c != nil {
			a := c.(*array.Timestamp)
			want := arrow.Timestamp(baseTime.Add(time.Duration(r) * time.Millisecond).UnixMicro())
			if a.IsNull(k) != isNull(r, 13) || (!a.IsNull(k) && a.Value(k) != want) {
				t.Fatalf("row %d: ts = %v (null %v), want %v", r, a.Value(k), a.IsNull(k), want)
			}
		}
		if c := col("sec"); c != nil {
			a := c.(*array.Timestamp)
			if a.IsNull(k) != isNull(r, 17) || (!a.IsNull(k) && a.Value(k) != arrow.Timestamp(baseTime.Unix()+r)) {
				t.Fatalf("row %d: sec = %v (null %v)", r, a.Value(k), a.IsNull(k))
			}
		}
		if c := col("u"); c != nil {
			a := c.(*array.Uint32)
			if a.IsNull(k) != isNull(r, 19) || (!a.IsNull(k) && a.Value(k) != uint32(r)*3) {
				t.Fatalf("row %d: u = %v (null %v)", r, a.Value(k), a.IsNull(k))
			}
		}
		if c := col("day"); c != nil {
			a := c.(*array.Date64)
			if a.IsNull(k) != isNull(r, 23) || (!a.IsNull(k) && a.Value(k) != arrow.Date64(r*86_400_000)) {
				t.Fatalf("row %d: day = %v (null %v)", r, a.Value(k), a.IsNull(k))
			}
		}
		if c := col("tod"); c != nil {
			a := c.(*array.Time32)
			if a.IsNull(k) != isNull(r, 29) || (!a.IsNull(k) && a.Value(k) != arrow.Time32(r%86_400)) {
				t.Fatalf("row %d: tod = %v (null %v)", r, a.Value(k), a.IsNull(k))
			}
		}
	}
	return append([]int64(nil), ids...)
}

// writeFile writes rows [0, rows) in batches of batch rows and closes the
// sink.
func writeFile(t *testing.T, sink transports.Sink, rows, batch int64) {
	t.Helper()
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for start := int64(0); start < rows; start += batch {
		rec := makeBatch(mem, start, min(batch, rows-start))
		err := sink.Write(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatalf("write at row %d: %v", start, err)
		}
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// readAll reads src to io.EOF, checks every batch against the generator
// and returns the ids in order and the batch sizes. It does not close
// src.
func readAll(t *testing.T, src transports.Source) (ids []int64, sizes []int64) {
	t.Helper()
	ctx := context.Background()
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			if rec != nil {
				t.Fatal("Read returned a batch with io.EOF")
			}
			return ids, sizes
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if !rec.Schema().Equal(src.Schema()) {
			t.Fatalf("batch schema %s differs from source schema %s", rec.Schema(), src.Schema())
		}
		ids = append(ids, checkRows(t, rec)...)
		sizes = append(sizes, rec.NumRows())
		rec.Release()
	}
}

func seq(from, to int64) []int64 {
	out := make([]int64, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sharedData returns the path of a file in /work/shared/data, located
// relative to the repository root (../shared/data next to the checkout),
// or skips the test when the data set is absent.
func sharedData(tb testing.TB, name string) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	// The package directory is <root>/transports/parquet.
	p := filepath.Join(wd, "..", "..", "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data set %s not found (%v): it lives in ../shared/data next to the repository root", name, err)
	}
	return p
}
