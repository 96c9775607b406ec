package csv_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/csv"
)

// writeFile writes content to a file named name in a temp dir.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll reads src to the end into one table; the caller releases it.
func readAll(t testing.TB, src transports.Source) (arrow.Table, []int64, error) {
	t.Helper()
	var recs []arrow.RecordBatch
	var sizes []int64
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, sizes, err
		}
		recs = append(recs, rec)
		sizes = append(sizes, rec.NumRows())
	}
	return array.NewTableFromRecords(src.Schema(), recs), sizes, nil
}

// open opens path with a checked allocator and returns the table of all
// its rows.
func open(t *testing.T, path string, opts ...csv.SourceOption) (*arrow.Schema, arrow.Table) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	src, err := csv.NewSource(path, append(opts, csv.WithAllocator(mem))...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tbl, _, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return src.Schema(), tbl
}

// readErr opens path and reads until the first error, which it returns.
func readErr(t *testing.T, path string, opts ...csv.SourceOption) error {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := csv.NewSource(path, append(opts, csv.WithAllocator(mem))...)
	if err != nil {
		return err
	}
	defer src.Close()
	tbl, _, err := readAll(t, src)
	if tbl != nil {
		tbl.Release()
	}
	if err == nil {
		t.Fatalf("%s read without error", path)
	}
	// The error sticks.
	if _, again := src.Read(context.Background()); again == nil || again.Error() != err.Error() {
		t.Errorf("second Read after the error: %v, want %v", again, err)
	}
	return err
}

func col(t *testing.T, tbl arrow.Table, name string) arrow.Array {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %s", name, tbl.Schema())
	}
	chunks := tbl.Column(idx[0]).Data().Chunks()
	if len(chunks) != 1 {
		t.Fatalf("column %q has %d chunks", name, len(chunks))
	}
	return chunks[0]
}

func TestInference(t *testing.T) {
	ts := func(u arrow.TimeUnit, tz string) arrow.DataType { return &arrow.TimestampType{Unit: u, TimeZone: tz} }
	for _, tc := range []struct {
		name   string
		values []string
		want   arrow.DataType
	}{
		{"ints", []string{"1", "-2", "+3", "007", ""}, arrow.PrimitiveTypes.Int64},
		{"ints then floats", []string{"1", "2", "3", "4.5"}, arrow.PrimitiveTypes.Float64},
		{"floats", []string{"1e3", "-0.5", "NaN", "Inf"}, arrow.PrimitiveTypes.Float64},
		{"bools", []string{"true", "False", "TRUE", ""}, arrow.FixedWidthTypes.Boolean},
		{"zeros and ones are ints", []string{"0", "1"}, arrow.PrimitiveTypes.Int64},
		{"dates", []string{"2012-01-01", "1999-12-31"}, arrow.FixedWidthTypes.Date32},
		{"naive timestamps", []string{"2012-01-01 10:00:00", "2012-01-01T10:00:00.123456"}, ts(arrow.Microsecond, "")},
		{"dates and timestamps", []string{"2012-01-01", "2012-01-01T10:00"}, ts(arrow.Microsecond, "")},
		{"zoned timestamps", []string{"2012-01-01T10:00:00Z", "2012-01-01T10:00:00+02:00", "2012-01-01 10:00:00.5-0700"}, ts(arrow.Microsecond, "UTC")},
		{"nanoseconds", []string{"2012-01-01T10:00:00.123456789Z"}, ts(arrow.Nanosecond, "UTC")},
		{"mixed zones", []string{"2012-01-01T10:00:00Z", "2012-01-01T10:00:00"}, arrow.BinaryTypes.String},
		{"slash timestamps", []string{"2015/01/01 01:00:00", "2015/12/31 23:59:59"}, ts(arrow.Microsecond, "")},
		{"slash dates", []string{"2015/01/01", ""}, arrow.FixedWidthTypes.Date32},
		{"month names", []string{"Jan 1 2000", "Dec 31 2010"}, arrow.FixedWidthTypes.Date32},
		{"ambiguous dates", []string{"01/02/2006"}, arrow.BinaryTypes.String},
		{"all empty", []string{"", "", ""}, arrow.BinaryTypes.String},
		{"strings", []string{"1", "x"}, arrow.BinaryTypes.String},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "t.csv", "id,v\n"+func() string {
				var b strings.Builder
				for i, v := range tc.values {
					fmt.Fprintf(&b, "%d,%s\n", i, v)
				}
				return b.String()
			}())
			sc, tbl := open(t, path)
			if got := sc.Field(1); !arrow.TypeEqual(got.Type, tc.want) || !got.Nullable {
				t.Fatalf("v inferred as %s (nullable %v), want %s", got.Type, got.Nullable, tc.want)
			}
			v := col(t, tbl, "v")
			for i, s := range tc.values {
				if (s == "") != v.IsNull(i) {
					t.Errorf("row %d (%q): null = %v", i, s, v.IsNull(i))
				}
			}
		})
	}
}

// TestInferenceOverManyRows: the type comes from every one of the first
// 10,000 rows, not the first one; a float after them is a read error
// that names its line, and WithInferRows widens the window.
func TestInferenceOverManyRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := 0; i < 20_000; i++ {
		v := fmt.Sprint(i)
		switch i {
		case 9_999:
			v = "0.5" // the last inferred row
		case 15_000:
			v = "1.25"
		}
		fmt.Fprintf(&b, "%d,%s\n", i, v)
	}
	path := writeFile(t, "many.csv", b.String())
	sc, tbl := open(t, path)
	if !arrow.TypeEqual(sc.Field(1).Type, arrow.PrimitiveTypes.Float64) {
		t.Fatalf("v inferred as %s, want float64", sc.Field(1).Type)
	}
	if v := col(t, tbl, "v").(*array.Float64); v.Value(9_999) != 0.5 || v.Value(15_000) != 1.25 || v.Value(12_345) != 12_345 {
		t.Errorf("values: %v %v %v", v.Value(9_999), v.Value(15_000), v.Value(12_345))
	}

	// Only 5,000 rows inferred: int64, and row 9,999 (line 10,001) fails.
	err := readErr(t, path, csv.WithInferRows(5_000), csv.WithBatchRows(4_096))
	var pe *csv.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, csv.ErrBadValue) {
		t.Fatalf("error %v is not a ParseError wrapping ErrBadValue", err)
	}
	if pe.Line != 10_001 || pe.Row != 9_999 || pe.Column != 1 || pe.Name != "v" || pe.Value != "0.5" {
		t.Errorf("ParseError %+v, want line 10001, row 9999, column 1 \"v\", value 0.5", *pe)
	}

	// The whole file inferred.
	sc, _ = open(t, writeFile(t, "late.csv", strings.Replace(b.String(), "\n9999,0.5\n", "\n9999,9999\n", 1)), csv.WithInferRows(-1))
	if !arrow.TypeEqual(sc.Field(1).Type, arrow.PrimitiveTypes.Float64) {
		t.Errorf("WithInferRows(-1): v inferred as %s, want float64 (row 15000 is a float)", sc.Field(1).Type)
	}
}

// TestBadValueReportsLineAndColumn: a column with a bad value reports
// the file, the line and the column by name and index.
func TestBadValueReportsLineAndColumn(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "count", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "when", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	var b strings.Builder
	b.WriteString("name,count,when\n")
	for i := 0; i < 300; i++ {
		name := fmt.Sprintf("n%d", i)
		if i == 100 {
			name = "\"two\nlines\"" // quoted newline: the lines after it count it
		}
		fmt.Fprintf(&b, "%s,%d,2026-11-01T00:00:%02d.5Z\n", name, i, i%60)
	}
	good := b.String()
	// Line numbers: header on line 1, row r on line r+2, +1 after row 100.
	for _, tc := range []struct {
		name           string
		content        string
		line, column   int
		colName, value string
		kind           error
		opts           []csv.SourceOption
	}{
		{"int", strings.Replace(good, "n250,250,", "n250,2x0,", 1), 253, 1, "count", "2x0", csv.ErrBadValue, nil},
		{"int overflow in the first batch", strings.Replace(good, "n3,3,", "n3,3000000000,", 1), 5, 1, "count", "3000000000", csv.ErrBadValue, nil},
		{"timestamp", strings.Replace(good, "n150,150,2026-11-01T00:00:30.5Z", "n150,150,yesterday", 1), 153, 2, "when", "yesterday", csv.ErrBadValue, nil},
		{"timestamp layout out of range", strings.Replace(good, "n151,151,2026-11-01T00:00:31.5Z", "n151,151,2026/13/01 00:00:31", 1), 154, 2, "when", "2026/13/01 00:00:31", csv.ErrBadValue, nil},
		{"too many fields", strings.Replace(good, "n200,200,", "n200,200,x,", 1), 203, -1, "", "", csv.ErrFieldCount, nil},
		{"too few fields", strings.Replace(good, "n20,20,2026-11-01T00:00:20.5Z", "n20,20", 1), 22, -1, "", "", csv.ErrFieldCount, nil},
		{"bare quote", strings.Replace(good, "n280,", "n2\"80,", 1), 283, -1, "", "", csv.ErrSyntax, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "bad.csv", tc.content)
			err := readErr(t, path, append(tc.opts, csv.WithSchema(schema), csv.WithBatchRows(64))...)
			var pe *csv.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, tc.kind) {
				t.Fatalf("error %v: want a *ParseError wrapping %v", err, tc.kind)
			}
			if pe.Path != path || pe.Line != tc.line || pe.Column != tc.column || pe.Name != tc.colName || pe.Value != tc.value {
				t.Errorf("got %+v\nwant line %d, column %d %q, value %q", *pe, tc.line, tc.column, tc.colName, tc.value)
			}
			msg := err.Error()
			wantIn := []string{path, fmt.Sprintf("line %d", tc.line)}
			if tc.column >= 0 {
				wantIn = append(wantIn, fmt.Sprintf("column %q (index %d", tc.colName, tc.column))
			}
			for _, w := range wantIn {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// TestBadValueInferred: bad values after the inferred rows in a column
// converted by the Source ("2015/01/01 01:00:00": a later ISO value is
// read, a value of no accepted form is not) and in one parsed by
// arrow-go.
func TestBadValueInferred(t *testing.T) {
	var b strings.Builder
	b.WriteString("time;count\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "2015/01/%02d 01:00:00;%d\n", i%28+1, i)
	}
	b.WriteString("2015-01-01 01:00:00;100\n") // line 102: ISO, read
	b.WriteString("2015/01/32 01:00:00;101\n") // line 103: no such day
	err := readErr(t, writeFile(t, "g.csv", b.String()), csv.WithDelimiter(';'), csv.WithInferRows(50), csv.WithBatchRows(30))
	var pe *csv.ParseError
	if !errors.As(err, &pe) || pe.Line != 103 || pe.Name != "time" || pe.Column != 0 || pe.Row != 101 {
		t.Fatalf("error %v (%+v), want line 103, column 0 \"time\"", err, pe)
	}
}

func TestExplicitSchema(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Uint16},
		{Name: "code", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date64, Nullable: true},
	}, nil)
	content := "id,code,score,day\n1,007,1.5,2026-11-01\n2,,NA,\n"
	sc, tbl := open(t, writeFile(t, "x.csv", content), csv.WithSchema(schema), csv.WithNullValues("NA"))
	if !sc.Equal(schema) || !tbl.Schema().Equal(schema) {
		t.Fatalf("schema %s", sc)
	}
	if code := col(t, tbl, "code").(*array.String); code.Value(0) != "007" || !code.IsNull(1) {
		t.Errorf("code: %v (the explicit type keeps leading zeros; empty is null)", code)
	}
	if score := col(t, tbl, "score"); !score.IsNull(1) {
		t.Errorf("score: %v (NA is null)", score)
	}

	t.Run("header mismatch", func(t *testing.T) {
		_, err := csv.NewSource(writeFile(t, "h.csv", "id,kode,score,day\n"), csv.WithSchema(schema))
		if !errors.Is(err, csv.ErrHeader) {
			t.Errorf("NewSource = %v, want ErrHeader", err)
		}
		_, err = csv.NewSource(writeFile(t, "h.csv", "id,code\n"), csv.WithSchema(schema))
		if !errors.Is(err, csv.ErrHeader) {
			t.Errorf("NewSource = %v, want ErrHeader", err)
		}
	})
	t.Run("no header", func(t *testing.T) {
		_, tbl := open(t, writeFile(t, "n.csv", "1,a,2,2026-11-01\n"), csv.WithSchema(schema), csv.WithHeader(false))
		if tbl.NumRows() != 1 {
			t.Errorf("%d rows, want 1", tbl.NumRows())
		}
	})
	t.Run("unsupported type", func(t *testing.T) {
		bad := arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)}}, nil)
		if _, err := csv.NewSource(writeFile(t, "u.csv", "l\n"), csv.WithSchema(bad)); !errors.Is(err, csv.ErrUnsupportedType) {
			t.Errorf("NewSource = %v, want ErrUnsupportedType", err)
		}
		if _, err := csv.NewSink(filepath.Join(t.TempDir(), "u.csv"), bad); !errors.Is(err, csv.ErrUnsupportedType) {
			t.Errorf("NewSink = %v, want ErrUnsupportedType", err)
		}
	})
	t.Run("column types", func(t *testing.T) {
		sc, tbl := open(t, writeFile(t, "c.csv", "zip,n\n00501,1\n02134,2\n"),
			csv.WithColumnTypes(map[string]arrow.DataType{"zip": arrow.BinaryTypes.String}))
		if !arrow.TypeEqual(sc.Field(0).Type, arrow.BinaryTypes.String) || col(t, tbl, "zip").(*array.String).Value(0) != "00501" {
			t.Errorf("zip: %s %v", sc.Field(0).Type, col(t, tbl, "zip"))
		}
		if _, err := csv.NewSource(writeFile(t, "c.csv", "a\n1\n"), csv.WithColumnTypes(map[string]arrow.DataType{"b": arrow.BinaryTypes.String})); !errors.Is(err, csv.ErrInvalidOption) {
			t.Errorf("unknown column: %v, want ErrInvalidOption", err)
		}
	})
}

func TestHeaderAndDelimiter(t *testing.T) {
	t.Run("bom and empty names", func(t *testing.T) {
		sc, tbl := open(t, writeFile(t, "b.csv", "\xEF\xBB\xBFa,,c\r\n1,2,3\r\n"))
		if got := []string{sc.Field(0).Name, sc.Field(1).Name, sc.Field(2).Name}; got[0] != "a" || got[1] != "f1" || got[2] != "c" {
			t.Errorf("names %q, want [a f1 c]", got)
		}
		if tbl.NumRows() != 1 {
			t.Errorf("%d rows", tbl.NumRows())
		}
	})
	t.Run("no header", func(t *testing.T) {
		sc, tbl := open(t, writeFile(t, "n.csv", "1\tx\n2\ty\n"), csv.WithHeader(false), csv.WithDelimiter('\t'))
		if sc.Field(0).Name != "f0" || sc.Field(1).Name != "f1" || tbl.NumRows() != 2 {
			t.Errorf("schema %s, %d rows", sc, tbl.NumRows())
		}
	})
	t.Run("empty file", func(t *testing.T) {
		sc, tbl := open(t, writeFile(t, "e.csv", ""))
		if sc.NumFields() != 0 || tbl.NumRows() != 0 {
			t.Errorf("schema %s, %d rows", sc, tbl.NumRows())
		}
	})
	t.Run("header only", func(t *testing.T) {
		sc, tbl := open(t, writeFile(t, "h.csv", "a,b\n"))
		if sc.NumFields() != 2 || !arrow.TypeEqual(sc.Field(0).Type, arrow.BinaryTypes.String) || tbl.NumRows() != 0 {
			t.Errorf("schema %s, %d rows", sc, tbl.NumRows())
		}
	})
	t.Run("bad delimiter", func(t *testing.T) {
		if _, err := csv.NewSource("x.csv", csv.WithDelimiter('"')); !errors.Is(err, csv.ErrInvalidOption) {
			t.Errorf("NewSource = %v, want ErrInvalidOption", err)
		}
		if _, err := csv.NewSink("x.csv", arrow.NewSchema(nil, nil), csv.WithDelimiter('\n')); !errors.Is(err, csv.ErrInvalidOption) {
			t.Errorf("NewSink = %v, want ErrInvalidOption", err)
		}
	})
	t.Run("sink round trip with semicolons, no header", func(t *testing.T) {
		schema := arrow.NewSchema([]arrow.Field{
			{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		b.Field(0).(*array.StringBuilder).AppendValues([]string{"a;b", "c"}, nil)
		b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2}, []bool{true, false})
		rec := b.NewRecordBatch()
		b.Release()
		defer rec.Release()
		path := filepath.Join(t.TempDir(), "s.csv")
		sink, err := csv.NewSink(path, schema, csv.WithDelimiter(';'), csv.WithHeader(false))
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Write(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if string(data) != "\"a;b\";1\nc;\n" {
			t.Errorf("file %q", data)
		}
		_, tbl := open(t, path, csv.WithSchema(schema), csv.WithHeader(false), csv.WithDelimiter(';'))
		if tbl.NumRows() != 2 || !array.Equal(col(t, tbl, "s"), rec.Column(0)) || !array.Equal(col(t, tbl, "n"), rec.Column(1)) {
			t.Errorf("read back %d rows: %v %v", tbl.NumRows(), col(t, tbl, "s"), col(t, tbl, "n"))
		}
	})
}

// TestOneColumnNulls: a null in a one-column file would be an empty
// line, which CSV readers skip; the sink writes `""` instead.
func TestOneColumnNulls(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "", "multi\n\nline", "", "\"q\""}, []bool{true, false, true, true, true})
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "one.csv")
	sink, err := csv.NewSink(path, schema)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, tbl := open(t, path, csv.WithSchema(schema))
	got := col(t, tbl, "s").(*array.String)
	if got.Len() != 5 || got.Value(2) != "multi\n\nline" || !got.IsNull(1) || !got.IsNull(3) || got.Value(4) != "\"q\"" {
		t.Errorf("read back %v", got)
	}
}

func TestBatchRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("n\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	src, err := csv.NewSource(writeFile(t, "n.csv", b.String()), csv.WithBatchRows(300))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tbl, sizes, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if fmt.Sprint(sizes) != "[300 300 300 100]" {
		t.Errorf("batch sizes %v, want [300 300 300 100]", sizes)
	}
	for _, n := range []int{0, -1} {
		if _, err := csv.NewSource("n.csv", csv.WithBatchRows(n)); !errors.Is(err, csv.ErrInvalidOption) {
			t.Errorf("WithBatchRows(%d): %v, want ErrInvalidOption", n, err)
		}
	}
	if _, err := csv.NewSource("n.csv", csv.WithInferRows(0)); !errors.Is(err, csv.ErrInvalidOption) {
		t.Errorf("WithInferRows(0): %v, want ErrInvalidOption", err)
	}
}

func TestAtomicRename(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	ctx := context.Background()

	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	sink, err := csv.NewSink(path, schema, csv.WithAtomicRename(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists before Close: %v", path, err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "n\n1\n2\n3\n" {
		t.Errorf("after Close: %q, %v", data, err)
	}

	// Closed with a cancelled ctx: abandoned, nothing left.
	path2 := filepath.Join(dir, "gone.csv")
	sink, err = csv.NewSink(path2, schema, csv.WithAtomicRename(true))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := sink.Close(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close with a cancelled ctx = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "out.csv" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only out.csv", names)
	}
}

// sharedData returns the path of a file of the shared data sets
// (<repo>/../shared/data), skipping the test when it is absent.
func sharedData(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join("..", "..", "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data set %s not found (%v): it lives in ../shared/data next to the repository root", name, err)
	}
	return p
}

func TestRealData(t *testing.T) {
	date32 := arrow.FixedWidthTypes.Date32
	day := func(s string) arrow.Date32 {
		tm, _ := time.Parse(time.DateOnly, s)
		return arrow.Date32FromTime(tm)
	}

	t.Run("airports", func(t *testing.T) {
		sc, tbl := open(t, sharedData(t, "airports.csv"), csv.WithBatchRows(1000))
		want := arrow.NewSchema([]arrow.Field{
			{Name: "iata", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "state", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "latitude", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			{Name: "longitude", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		}, nil)
		if !sc.Equal(want) {
			t.Fatalf("schema %s", sc)
		}
		if tbl.NumRows() != 3376 {
			t.Fatalf("%d rows, want 3376", tbl.NumRows())
		}
		if tbl.Column(0).Len() != 3376 || len(tbl.Column(0).Data().Chunks()) != 4 {
			t.Errorf("%d chunks, want 4 batches of at most 1000 rows", len(tbl.Column(0).Data().Chunks()))
		}
		// Row 0: 00M,Thigpen,Bay Springs,MS,USA,31.95376472,-89.23450472;
		// a quoted name with a comma: 35A,"Union County, Troy Shelton".
		first := tbl.Column(5).Data().Chunk(0).(*array.Float64)
		if first.Value(0) != 31.95376472 || tbl.Column(6).Data().Chunk(0).(*array.Float64).Value(0) != -89.23450472 {
			t.Errorf("row 0 coordinates %v", first.Value(0))
		}
		found := false
		for _, ch := range tbl.Column(1).Data().Chunks() {
			names := ch.(*array.String)
			for i := 0; i < names.Len(); i++ {
				found = found || names.Value(i) == "Union County, Troy Shelton"
			}
		}
		if !found {
			t.Error("quoted name \"Union County, Troy Shelton\" not found")
		}
	})

	t.Run("stocks", func(t *testing.T) {
		// "Jan 1 2000" is one of the recognised layouts: date32.
		sc, tbl := open(t, sharedData(t, "stocks.csv"))
		if !arrow.TypeEqual(sc.Field(1).Type, date32) || !arrow.TypeEqual(sc.Field(2).Type, arrow.PrimitiveTypes.Float64) {
			t.Fatalf("schema %s", sc)
		}
		d := col(t, tbl, "date").(*array.Date32)
		if tbl.NumRows() != 560 || d.Value(0) != day("2000-01-01") || d.Value(1) != day("2000-02-01") {
			t.Errorf("%d rows, dates %v %v", tbl.NumRows(), d.Value(0).FormattedString(), d.Value(1).FormattedString())
		}
	})

	t.Run("github", func(t *testing.T) {
		// "2015/01/01 01:00:00": timestamp[us] without zone.
		sc, tbl := open(t, sharedData(t, "github.csv"))
		ts := &arrow.TimestampType{Unit: arrow.Microsecond}
		if !arrow.TypeEqual(sc.Field(0).Type, ts) || !arrow.TypeEqual(sc.Field(1).Type, arrow.PrimitiveTypes.Int64) {
			t.Fatalf("schema %s", sc)
		}
		v := col(t, tbl, "time").(*array.Timestamp)
		want := time.Date(2015, 1, 1, 1, 0, 0, 0, time.UTC).UnixMicro()
		if tbl.NumRows() != 955 || int64(v.Value(0)) != want {
			t.Errorf("%d rows, first time %v", tbl.NumRows(), v.Value(0).ToTime(arrow.Microsecond))
		}
	})

	t.Run("seattle-weather", func(t *testing.T) {
		// "2012-01-01": date32.
		sc, tbl := open(t, sharedData(t, "seattle-weather.csv"))
		want := []arrow.DataType{date32, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float64,
			arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float64, arrow.BinaryTypes.String}
		for i, dt := range want {
			if !arrow.TypeEqual(sc.Field(i).Type, dt) {
				t.Errorf("column %s is %s, want %s", sc.Field(i).Name, sc.Field(i).Type, dt)
			}
		}
		d := col(t, tbl, "date").(*array.Date32)
		if tbl.NumRows() != 1461 || d.Value(0) != day("2012-01-01") || d.Value(1460) != day("2015-12-31") {
			t.Errorf("%d rows, dates %s..%s", tbl.NumRows(), d.Value(0).FormattedString(), d.Value(d.Len()-1).FormattedString())
		}
		if p := col(t, tbl, "precipitation").(*array.Float64); p.Value(1) != 10.9 {
			t.Errorf("precipitation[1] = %v", p.Value(1))
		}
	})
}

// TestDeclaredTypesReadWhatInferenceReads: a column declared date32,
// date64 or timestamp (WithSchema, WithColumnTypes) reads every form that
// inference reads: the ISO forms and each layout of the package doc
// ("2015/01/01 01:00:00", "Jan 1 2000", ...), a value without a zone as
// UTC, a value with one as that instant.
func TestDeclaredTypesReadWhatInferenceReads(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	for _, tc := range []struct {
		value string
		want  time.Time // in UTC; dates at 00:00
	}{
		{"2015/01/02 01:00:00", utc(2015, 1, 2, 1, 0)},
		{"2015/01/02 01:30", utc(2015, 1, 2, 1, 30)},
		{"2015/01/02", utc(2015, 1, 2, 0, 0)},
		{"Jan 2 2000", utc(2000, 1, 2, 0, 0)},
		{"Jan 2, 2000", utc(2000, 1, 2, 0, 0)},
		{"2 Jan 2000", utc(2000, 1, 2, 0, 0)},
		{"January 2 2000", utc(2000, 1, 2, 0, 0)},
		{"January 2, 2000", utc(2000, 1, 2, 0, 0)},
		{"2000-01-02", utc(2000, 1, 2, 0, 0)},
		{"2000-01-02T03:04:00", utc(2000, 1, 2, 3, 4)},
		{"2000-01-02 03:04:00Z", utc(2000, 1, 2, 3, 4)},
		{"2000-01-02T05:04:00+02:00", utc(2000, 1, 2, 3, 4)},
	} {
		t.Run(tc.value, func(t *testing.T) {
			path := writeFile(t, "t.csv", "t,n\n\""+tc.value+"\",1\n\"\",2\n")
			// inference reads it as a date or a timestamp
			sc, _ := open(t, path)
			if id := sc.Field(0).Type.ID(); id != arrow.DATE32 && id != arrow.TIMESTAMP {
				t.Fatalf("inferred %s", sc.Field(0).Type)
			}
			day := tc.want.Truncate(24 * time.Hour)
			for _, d := range []struct {
				dt   arrow.DataType
				want int64
			}{
				{arrow.FixedWidthTypes.Date32, int64(arrow.Date32FromTime(day))},
				{arrow.FixedWidthTypes.Date64, int64(arrow.Date64FromTime(day))},
				{&arrow.TimestampType{Unit: arrow.Microsecond}, tc.want.UnixMicro()},
				{&arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, tc.want.UnixMilli()},
			} {
				schema := arrow.NewSchema([]arrow.Field{{Name: "t", Type: d.dt, Nullable: true}, {Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
				for name, opt := range map[string]csv.SourceOption{
					"WithSchema":      csv.WithSchema(schema),
					"WithColumnTypes": csv.WithColumnTypes(map[string]arrow.DataType{"t": d.dt}),
				} {
					_, tbl := open(t, path, opt)
					c := col(t, tbl, "t")
					if !arrow.TypeEqual(c.DataType(), d.dt) || c.IsNull(0) || !c.IsNull(1) {
						t.Fatalf("%s %s: column %s %v", name, d.dt, c.DataType(), c)
					}
					var got int64
					switch c := c.(type) {
					case *array.Date32:
						got = int64(c.Value(0))
					case *array.Date64:
						got = int64(c.Value(0))
					case *array.Timestamp:
						got = int64(c.Value(0))
					}
					if got != d.want {
						t.Errorf("%s %s: %d, want %d", name, d.dt, got, d.want)
					}
				}
			}
		})
	}
	// a value without a zone is read as UTC whatever the declared zone
	// (as arrow-go reads ISO values, and as a cast of an inferred
	// zoneless column keeps its values)
	path := writeFile(t, "p.csv", "t\n2015/07/01 12:00:00\n2015-07-01 12:00:00\n")
	dt := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Europe/Paris"}
	_, tbl := open(t, path, csv.WithColumnTypes(map[string]arrow.DataType{"t": dt}))
	want := time.Date(2015, 7, 1, 12, 0, 0, 0, time.UTC).Unix()
	if c := col(t, tbl, "t").(*array.Timestamp); int64(c.Value(0)) != want || int64(c.Value(1)) != want {
		t.Errorf("Europe/Paris: %v, want %d twice", c, want)
	}
}
