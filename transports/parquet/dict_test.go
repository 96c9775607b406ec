package parquet_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/pcs-dev/pcs/transports/parquet"
)

// dictSchema has the columns the sink dictionary-encodes itself (strings,
// binaries, Arrow dictionaries of them, int32 and int64), with and
// without nulls, low-cardinality and unique (which must fall back to
// PLAIN), plus a column that is unique in its first row group only.
var dictSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32},
	{Name: "short", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "long", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "mixed", Type: arrow.BinaryTypes.String},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "lbin", Type: arrow.BinaryTypes.LargeBinary},
	{Name: "dict", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "ldict", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.Binary}},
	{Name: "uniq", Type: arrow.BinaryTypes.LargeString},
	{Name: "uniq64", Type: arrow.PrimitiveTypes.Int64},
	{Name: "first", Type: arrow.PrimitiveTypes.Int64},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
}, nil)

const dictRowGroup = 3000

// dictValue is row r's value of column c of dictSchema as a string, or
// "" for null (no generated value is empty: bin's empty value is "<>").
func dictValue(c string, r int64) string {
	switch c {
	case "i64":
		if r%7 == 3 {
			return ""
		}
		return fmt.Sprint(r%37 - 18)
	case "i32":
		return fmt.Sprint(int32(r%100) - 50)
	case "short":
		if r%9 == 0 {
			return ""
		}
		return fmt.Sprintf("c%d", r%50)
	case "long":
		if r%11 == 5 {
			return ""
		}
		return fmt.Sprintf("a rather long airport name %d", r%300)
	case "mixed":
		if r%2 == 0 {
			return fmt.Sprintf("x%d", r%100) // 7 bytes or fewer
		}
		return fmt.Sprintf("x%d-and-more-bytes", r%100)
	case "bin":
		if r%13 == 1 {
			return ""
		}
		if r%20 == 0 {
			return "<>"
		}
		return fmt.Sprintf("b\x00%d", r%20)
	case "lbin":
		return fmt.Sprintf("lb%d", r%3)
	case "dict":
		if r%6 == 2 {
			return ""
		}
		return fmt.Sprintf("city %d", r%40)
	case "ldict":
		return fmt.Sprintf("st%d", r%8)
	case "uniq":
		return fmt.Sprintf("unique-row-%09d", r)
	case "uniq64":
		return fmt.Sprint(r * 7919)
	case "first":
		if r < dictRowGroup {
			return fmt.Sprint(r)
		}
		return fmt.Sprint(r % 5)
	case "ts":
		if r%10 == 0 {
			return ""
		}
		return fmt.Sprint(1_700_000_000_000_000 + r*1000)
	}
	panic(c)
}

// makeDictBatch returns rows [start, start+n) of dictSchema. The
// dictionary columns carry a dictionary of their own per batch (the
// batch's values in reverse order of first use, after an unused value),
// as the pipeline's lookups make them.
func makeDictBatch(mem memory.Allocator, start, n int64) arrow.RecordBatch {
	cols := make([]arrow.Array, len(dictSchema.Fields()))
	for i, f := range dictSchema.Fields() {
		if dt, ok := f.Type.(*arrow.DictionaryType); ok {
			cols[i] = makeDictColumn(mem, dt, f.Name, start, n)
			continue
		}
		fb := array.NewBuilder(mem, f.Type)
		for r := start; r < start+n; r++ {
			v := dictValue(f.Name, r)
			switch {
			case v == "":
				fb.AppendNull()
			case v == "<>":
				fb.(*array.BinaryBuilder).Append([]byte{})
			default:
				if bb, ok := fb.(*array.BinaryBuilder); ok {
					bb.Append([]byte(v))
				} else if err := fb.AppendValueFromString(v); err != nil {
					panic(err)
				}
			}
		}
		cols[i] = fb.NewArray()
		fb.Release()
	}
	rec := array.NewRecordBatch(dictSchema, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func makeDictColumn(mem memory.Allocator, dt *arrow.DictionaryType, name string, start, n int64) arrow.Array {
	var distinct []string
	seen := map[string]bool{}
	for r := start; r < start+n; r++ {
		if v := dictValue(name, r); v != "" && !seen[v] {
			seen[v] = true
			distinct = append(distinct, v)
		}
	}
	code := map[string]int{}
	vb := array.NewBuilder(mem, dt.ValueType)
	defer vb.Release()
	appendBytes(vb, "unused")
	for k := len(distinct) - 1; k >= 0; k-- {
		code[distinct[k]] = vb.Len()
		appendBytes(vb, distinct[k])
	}
	values := vb.NewArray()
	defer values.Release()
	ib := array.NewBuilder(mem, dt.IndexType)
	defer ib.Release()
	for r := start; r < start+n; r++ {
		if v := dictValue(name, r); v == "" {
			ib.AppendNull()
		} else {
			_ = ib.AppendValueFromString(fmt.Sprint(code[v]))
		}
	}
	idx := ib.NewArray()
	defer idx.Release()
	return array.NewDictionaryArray(dt, idx, values)
}

func appendBytes(b array.Builder, v string) {
	switch b := b.(type) {
	case *array.BinaryBuilder:
		b.Append([]byte(v))
	case *array.StringBuilder:
		b.Append(v)
	case *array.LargeStringBuilder:
		b.Append(v)
	default:
		panic(b)
	}
}

// cellString is value j of a as dictValue writes it ("" for null).
func cellString(a arrow.Array, j int) string {
	if a.IsNull(j) {
		return ""
	}
	switch a := a.(type) {
	case *array.Dictionary:
		return cellString(a.Dictionary(), a.GetValueIndex(j))
	case *array.Binary:
		if a.ValueLen(j) == 0 {
			return "<>"
		}
		return string(a.Value(j))
	case *array.LargeBinary:
		return string(a.Value(j))
	case *array.Timestamp:
		return fmt.Sprint(int64(a.Value(j)))
	}
	return a.ValueStr(j)
}

// TestDictionaryRoundTrip writes every column kind the sink
// dictionary-encodes itself over several row groups and batches, reads
// the file back and compares every value, null and the schema, and
// checks which column chunks have a dictionary page: low-cardinality
// ones do, unique ones fall back to PLAIN, and "first" only in the row
// group where it is unique.
func TestDictionaryRoundTrip(t *testing.T) {
	for _, codec := range []parquet.Codec{parquet.CodecZstd, parquet.CodecSnappy, parquet.CodecNone} {
		t.Run(string(codec), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			const rows, batch = 10_000, 1234
			path := filepath.Join(t.TempDir(), "dict.parquet")
			sink, err := parquet.NewSink(path, dictSchema, parquet.WithCompression(codec),
				parquet.WithRowGroupRows(dictRowGroup), parquet.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for start := int64(0); start < rows; start += batch {
				rec := makeDictBatch(mem, start, min(batch, rows-start))
				err := sink.Write(ctx, rec)
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := sink.Close(ctx); err != nil {
				t.Fatal(err)
			}

			src, err := parquet.NewSource(path, parquet.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if !src.Schema().Equal(dictSchema) {
				t.Fatalf("schema read back:\n%s\nwant:\n%s", src.Schema(), dictSchema)
			}
			tbl := readTable(t, src, mem)
			defer tbl.Release()
			if tbl.NumRows() != rows {
				t.Fatalf("read %d rows, want %d", tbl.NumRows(), rows)
			}
			for i, f := range dictSchema.Fields() {
				r := int64(0)
				for _, chunk := range tbl.Column(i).Data().Chunks() {
					for j := range chunk.Len() {
						if got, want := cellString(chunk, j), dictValue(f.Name, r); got != want {
							t.Fatalf("column %s row %d = %q, want %q", f.Name, r, got, want)
						}
						r++
					}
				}
			}

			pf, err := file.OpenParquetFile(path, false)
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			md := pf.MetaData()
			if md.NumRowGroups() != 4 {
				t.Fatalf("%d row groups, want 4", md.NumRowGroups())
			}
			plain := map[string]bool{"uniq": true, "uniq64": true, "ts": true}
			for rg := range md.NumRowGroups() {
				for i, f := range dictSchema.Fields() {
					cc, err := md.RowGroup(rg).ColumnChunk(i)
					if err != nil {
						t.Fatal(err)
					}
					want := !plain[f.Name] && !(f.Name == "first" && rg == 0)
					if got := cc.HasDictionaryPage(); got != want {
						t.Errorf("row group %d column %s: dictionary page %v, want %v (encodings %v)", rg, f.Name, got, want, cc.Encodings())
					}
				}
			}
		})
	}
}

// TestDictionaryPageLimit: a column chunk whose distinct values exceed
// the dictionary page size limit (1 MiB by default) although each repeats
// is written PLAIN, and reads back intact: 40000 distinct 40-byte values,
// each twice.
func TestDictionaryPageLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	const rows = 80_000
	value := func(r int) string { return fmt.Sprintf("%040d", r%40_000) }
	b := array.NewStringBuilder(mem)
	for r := range rows {
		b.Append(value(r))
	}
	col := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, rows)
	col.Release()
	path := filepath.Join(t.TempDir(), "limit.parquet")
	sink, err := parquet.NewSink(path, schema, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = sink.Write(ctx, rec)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := pf.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	if cc.HasDictionaryPage() {
		t.Errorf("1.7 MB of distinct values written with a dictionary page (encodings %v)", cc.Encodings())
	}
	pf.Close()
	src, err := parquet.NewSource(path, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tbl := readTable(t, src, mem)
	defer tbl.Release()
	r := 0
	for _, chunk := range tbl.Column(0).Data().Chunks() {
		for j := range chunk.Len() {
			if got := chunk.(*array.String).Value(j); got != value(r) {
				t.Fatalf("row %d = %q, want %q", r, got, value(r))
			}
			r++
		}
	}
	if r != rows {
		t.Fatalf("read %d rows, want %d", r, rows)
	}
}
