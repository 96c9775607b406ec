package parquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestDictionaryRead: string and binary columns dictionary-encoded in
// every row group are read as dictionaries and materialized back to
// their own types (string, large_string, binary, large_binary), with
// nulls, empty values and batches that span row groups (whose
// dictionaries differ), in parallel or not; a column that is PLAIN in
// one row group is read as pqarrow reads it. Every value is compared.
func TestDictionaryRead(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "lb", Type: arrow.BinaryTypes.LargeBinary, Nullable: true},
		{Name: "plain", Type: arrow.BinaryTypes.String}, // unique in row group 0: PLAIN there
	}, nil)
	const rows, rowGroup = 4500, 1000
	value := func(c, r int) (string, bool) {
		rg := r / rowGroup
		switch c {
		case 0:
			return fmt.Sprintf("s%d-%d", r%17, rg), r%7 != 3 // each row group its own values
		case 1:
			return fmt.Sprintf("a longer value %d", r%23), true
		case 2:
			if r%11 == 0 {
				return "", true
			}
			return fmt.Sprintf("b\x00%d", r%5), r%13 != 1
		case 3:
			return fmt.Sprintf("lb%d", r%3), r%2 == 0
		case 4:
			if r < rowGroup {
				return fmt.Sprintf("unique %d", r), true
			}
			return fmt.Sprintf("p%d", r%4), true
		}
		panic(c)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "d.parquet")
	sink, err := NewSink(path, schema, WithRowGroupRows(rowGroup), WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	for r := range rows {
		for c := range schema.NumFields() {
			v, ok := value(c, r)
			switch fb := b.Field(c).(type) {
			case *array.StringBuilder:
				if ok {
					fb.Append(v)
				} else {
					fb.AppendNull()
				}
			case *array.LargeStringBuilder:
				fb.Append(v)
			case *array.BinaryBuilder:
				if ok {
					fb.Append([]byte(v))
				} else {
					fb.AppendNull()
				}
			}
		}
	}
	rec := b.NewRecordBatch()
	b.Release()
	ctx := context.Background()
	err = sink.Write(ctx, rec)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}

	for _, parallel := range []bool{false, true} {
		for _, batch := range []int64{700, 4500} {
			t.Run(fmt.Sprintf("parallel=%v/batch=%d", parallel, batch), func(t *testing.T) {
				src, err := NewSource(path, WithAllocator(mem), WithBatchRows(batch), WithParallel(parallel))
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				if len(src.dictRead) != 4 || src.dictRead[4] != nil {
					t.Errorf("columns read as dictionaries: %v, want s, ls, b, lb", src.dictRead)
				}
				if !src.Schema().Equal(schema) {
					t.Fatalf("schema %s, want %s", src.Schema(), schema)
				}
				r0 := 0
				for {
					rec, err := src.Read(ctx)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if !rec.Schema().Equal(schema) {
						t.Fatalf("batch schema %s", rec.Schema())
					}
					for c := range schema.NumFields() {
						col := rec.Column(c)
						for j := range col.Len() {
							want, ok := value(c, r0+j)
							if col.IsNull(j) != !ok {
								t.Fatalf("column %d row %d: null %v, want %v", c, r0+j, col.IsNull(j), !ok)
							}
							if !ok {
								continue
							}
							var got string
							switch a := col.(type) {
							case *array.String:
								got = a.Value(j)
							case *array.LargeString:
								got = a.Value(j)
							case *array.Binary:
								got = string(a.Value(j))
							case *array.LargeBinary:
								got = string(a.Value(j))
							}
							if got != want {
								t.Fatalf("column %d row %d = %q, want %q", c, r0+j, got, want)
							}
						}
					}
					r0 += int(rec.NumRows())
					rec.Release()
				}
				if r0 != rows {
					t.Fatalf("read %d rows, want %d", r0, rows)
				}
			})
		}
	}
}
