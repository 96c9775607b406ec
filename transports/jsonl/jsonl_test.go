package jsonl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/jsonl"
)

func writeFile(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data.jsonl")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll reads the file at path to the end (or the first error) with a
// checked allocator; it returns the schema, one batch of all rows (nil
// after an error) and the batch sizes.
func readAll(t *testing.T, path string, opts ...jsonl.SourceOption) (*arrow.Schema, arrow.RecordBatch, []int64, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	src, err := jsonl.NewSource(path, append(opts, jsonl.WithAllocator(mem))...)
	if err != nil {
		return nil, nil, nil, err
	}
	defer src.Close()
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
			return src.Schema(), nil, sizes, err
		}
		recs = append(recs, rec)
		sizes = append(sizes, rec.NumRows())
	}
	tbl := array.NewTableFromRecords(src.Schema(), recs)
	defer tbl.Release()
	var all arrow.RecordBatch
	if tbl.NumCols() == 0 {
		all = array.NewRecordBatch(src.Schema(), nil, tbl.NumRows())
	} else {
		cols := make([]arrow.Array, tbl.NumCols())
		for i := range cols {
			c, err := array.Concatenate(tbl.Column(i).Data().Chunks(), mem)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Release()
			cols[i] = c
		}
		all = array.NewRecordBatch(src.Schema(), cols, tbl.NumRows())
	}
	t.Cleanup(all.Release)
	return src.Schema(), all, sizes, nil
}

func mustRead(t *testing.T, content string, opts ...jsonl.SourceOption) (*arrow.Schema, arrow.RecordBatch) {
	t.Helper()
	sc, rec, _, err := readAll(t, writeFile(t, content), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return sc, rec
}

func TestInference(t *testing.T) {
	content := strings.Join([]string{
		`{"id": 1, "score": 1, "ok": true, "name": "a", "day": "2026-11-01", "at": "2026-11-01T08:00:00Z", "tags": ["x"], "meta": {"k": 1}}`,
		``,
		`{"id": 2, "score": 2.5, "ok": false, "name": null, "day": "2026-11-02", "at": "2026-11-01T09:00:00.123+01:00", "tags": [], "mixed": 1}`,
		`{"meta": null, "id": 9007199254740993, "score": 3, "mixed": "one", "late": null, "local": "2026-11-01 08:00:00"}`,
	}, "\n") + "\n"
	sc, rec := mustRead(t, content)
	want := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "tags", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "meta", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "mixed", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "late", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "local", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
	if !sc.Equal(want) {
		t.Fatalf("schema:\n%s\nwant:\n%s", sc, want)
	}
	if rec.NumRows() != 3 {
		t.Fatalf("%d rows, want 3", rec.NumRows())
	}
	str := func(col int) *array.String { return rec.Column(col).(*array.String) }
	if id := rec.Column(0).(*array.Int64); id.Value(2) != 9007199254740993 {
		t.Errorf("id[2] = %d: int64 beyond 2^53 must stay exact", id.Value(2))
	}
	if s := rec.Column(1).(*array.Float64); s.Value(0) != 1 || s.Value(1) != 2.5 {
		t.Errorf("score = %v", s)
	}
	if at := rec.Column(5).(*array.Timestamp); at.Value(1) != at.Value(0)+3_600_000_000-3_600_000_000+123_000 {
		t.Errorf("at = %v (09:00:00.123+01:00 is 08:00:00.123Z)", at)
	}
	if g := str(6); g.Value(0) != `["x"]` || g.Value(1) != `[]` || !g.IsNull(2) {
		t.Errorf("tags = %v", g)
	}
	if g := str(7); g.Value(0) != `{"k":1}` || !g.IsNull(1) || !g.IsNull(2) {
		t.Errorf("meta = %v", g)
	}
	if g := str(8); !g.IsNull(0) || g.Value(1) != "1" || g.Value(2) != "one" {
		t.Errorf("mixed = %v", g)
	}
	if !rec.Column(3).IsNull(1) || !rec.Column(3).IsNull(2) {
		t.Errorf("name = %v", rec.Column(3))
	}
}

// TestIntsThenFloats: the type comes from all inferred rows, not the
// first one; a float after them is an error naming its line.
func TestIntsThenFloats(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 3000; i++ {
		v := fmt.Sprint(i)
		if i == 2500 {
			v = "2500.5"
		}
		fmt.Fprintf(&b, "{\"n\": %d, \"v\": %s}\n", i, v)
	}
	sc, rec := mustRead(t, b.String())
	if !arrow.TypeEqual(sc.Field(1).Type, arrow.PrimitiveTypes.Float64) {
		t.Fatalf("v inferred as %s, want float64", sc.Field(1).Type)
	}
	if v := rec.Column(1).(*array.Float64); v.Value(2500) != 2500.5 || v.Value(7) != 7 {
		t.Errorf("v = %v, %v", v.Value(2500), v.Value(7))
	}

	_, _, _, err := readAll(t, writeFile(t, b.String()), jsonl.WithInferRows(1000), jsonl.WithBatchRows(256))
	var pe *jsonl.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, jsonl.ErrBadValue) {
		t.Fatalf("error %v, want a *ParseError wrapping ErrBadValue", err)
	}
	if pe.Line != 2501 || pe.Column != 1 || pe.Name != "v" || pe.Value != "2500.5" {
		t.Errorf("ParseError %+v, want line 2501, column 1 \"v\", value 2500.5", *pe)
	}
}

// TestBadValueReportsLineAndColumn: a column with a bad value reports
// the file, the line and the column.
func TestBadValueReportsLineAndColumn(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "count", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "pt", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true}), Nullable: true},
	}, nil)
	var b strings.Builder
	for i := 0; i < 100; i++ {
		if i == 50 {
			b.WriteString("\n") // blank lines count
		}
		fmt.Fprintf(&b, `{"name": "n%d \"quoted\"", "count": %d, "at": "2026-11-01T00:00:%02dZ", "pt": {"x": %d.5}}`+"\n", i, i, i%60, i)
	}
	good := b.String()
	// Object i is on line i+1, i+2 from object 50 on.
	for _, tc := range []struct {
		name, from, to string
		line, column   int
		colName, value string
		kind           error
	}{
		{"string for int", `"count": 70,`, `"count": "many",`, 72, 1, "count", `"many"`, jsonl.ErrBadValue},
		{"int overflow", `"count": 3,`, `"count": 3000000000,`, 4, 1, "count", `3000000000`, jsonl.ErrBadValue},
		{"timestamp of no form", `"at": "2026-11-01T00:00:20Z"`, `"at": "2026-11-01 at noon"`, 21, 2, "at", `"2026-11-01 at noon"`, jsonl.ErrBadValue},
		{"float timestamp", `"at": "2026-11-01T00:00:21Z"`, `"at": 1.5`, 22, 2, "at", `1.5`, jsonl.ErrBadValue},
		{"nested", `"pt": {"x": 90.5}`, `"pt": {"x": "far"}`, 92, 3, "pt", `{"x": "far"}`, jsonl.ErrBadValue},
		{"not an object", `{"name": "n60 \"quoted\"", "count": 60, "at": "2026-11-01T00:00:00Z", "pt": {"x": 60.5}}`, `[1, 2]`, 62, -1, "", "", jsonl.ErrSyntax},
		{"malformed", `"count": 10,`, `"count": 10,,`, 11, -1, "", "", jsonl.ErrSyntax},
		{"malformed value", `"count": 11,`, `"count": 1x1,`, 12, -1, "", "", jsonl.ErrSyntax},
		{"duplicate key", `"count": 12,`, `"count": 12, "count": 13,`, 13, -1, "", "", jsonl.ErrSyntax},
		{"trailing data", `"pt": {"x": 13.5}}`, `"pt": {"x": 13.5}} {}`, 14, -1, "", "", jsonl.ErrSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := strings.Replace(good, tc.from, tc.to, 1)
			if content == good {
				t.Fatalf("%q not found", tc.from)
			}
			path := writeFile(t, content)
			_, _, _, err := readAll(t, path, jsonl.WithSchema(schema), jsonl.WithBatchRows(16))
			var pe *jsonl.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, tc.kind) {
				t.Fatalf("error %v: want a *ParseError wrapping %v", err, tc.kind)
			}
			if pe.Path != path || pe.Line != tc.line || pe.Column != tc.column || pe.Name != tc.colName || (tc.value != "" && pe.Value != tc.value) {
				t.Errorf("got %+v\nwant line %d, column %d %q, value %s", *pe, tc.line, tc.column, tc.colName, tc.value)
			}
			if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("%s: line %d", path, tc.line)) {
				t.Errorf("message %q lacks the file and line", msg)
			}
		})
	}
}

func TestExplicitSchema(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "pt", Type: arrow.StructOf(
			arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
			arrow.Field{Name: "y", Type: arrow.PrimitiveTypes.Float32, Nullable: true}), Nullable: true},
		{Name: "raw", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}, nil)
	content := "\xEF\xBB\xBF" + `{"id": 1, "tags": ["a", "b"], "pt": {"x": 1, "y": 2}, "raw": {"deep": [1, {"z": null}]}, "day": "2026-11-01", "extra": 5}` + "\r\n" +
		`{"id": 2, "tags": null, "raw": "text"}` + "\r\n"
	sc, rec := mustRead(t, content, jsonl.WithSchema(schema))
	if !sc.Equal(schema) || !rec.Schema().Equal(schema) {
		t.Fatalf("schema %s", sc)
	}
	tags := rec.Column(1).(*array.List)
	if tags.Len() != 2 || !tags.IsNull(1) || tags.ListValues().(*array.String).Value(1) != "b" {
		t.Errorf("tags = %v", tags)
	}
	pt := rec.Column(2).(*array.Struct)
	if pt.Field(1).(*array.Float32).Value(0) != 2 || !pt.IsNull(1) {
		t.Errorf("pt = %v", pt)
	}
	if raw := rec.Column(3).(*array.LargeString); raw.Value(0) != `{"deep":[1,{"z":null}]}` || raw.Value(1) != "text" {
		t.Errorf("raw = %v", raw)
	}
	if !rec.Column(4).IsNull(1) {
		t.Errorf("day = %v (missing key is null)", rec.Column(4))
	}

	bad := arrow.NewSchema([]arrow.Field{{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64)}}, nil)
	if _, err := jsonl.NewSource(writeFile(t, ""), jsonl.WithSchema(bad)); !errors.Is(err, jsonl.ErrUnsupportedType) {
		t.Errorf("NewSource with a map column = %v, want ErrUnsupportedType", err)
	}
	if _, err := jsonl.NewSink(filepath.Join(t.TempDir(), "x"), bad); !errors.Is(err, jsonl.ErrUnsupportedType) {
		t.Errorf("NewSink with a map column = %v, want ErrUnsupportedType", err)
	}
}

func TestBatchRowsAndEmpty(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "{\"n\": %d}\n", i)
	}
	_, _, sizes, err := readAll(t, writeFile(t, b.String()), jsonl.WithBatchRows(300))
	if err != nil || fmt.Sprint(sizes) != "[300 300 300 100]" {
		t.Errorf("batch sizes %v (%v), want [300 300 300 100]", sizes, err)
	}
	sc, rec := mustRead(t, "\n  \n")
	if sc.NumFields() != 0 || rec.NumRows() != 0 {
		t.Errorf("blank file: schema %s, %d rows", sc, rec.NumRows())
	}
	sc, rec = mustRead(t, "{}\n{}\n")
	if sc.NumFields() != 0 || rec.NumRows() != 2 {
		t.Errorf("empty objects: schema %s, %d rows", sc, rec.NumRows())
	}
	for _, o := range []jsonl.SourceOption{jsonl.WithBatchRows(0), jsonl.WithInferRows(0), jsonl.WithSchema(nil), jsonl.WithAllocator(nil)} {
		if _, err := jsonl.NewSource("x", o); !errors.Is(err, jsonl.ErrInvalidOption) {
			t.Errorf("NewSource = %v, want ErrInvalidOption", err)
		}
	}
}

// TestSinkFormat checks the exact text the sink writes.
func TestSinkFormat(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Asia/Tokyo"}, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	bld.Field(0).(*array.StringBuilder).AppendValues([]string{"a\"b\n\x01\xff", ""}, []bool{true, false})
	bld.Field(1).(*array.Float64Builder).AppendValues([]float64{1e21, 0.000001}, nil)
	bld.Field(2).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_500, 0}, []bool{true, false})
	bld.Field(3).(*array.BinaryBuilder).AppendValues([][]byte{{0, 1, 2}, nil}, []bool{true, false})
	lb := bld.Field(4).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{1, 2}, nil)
	lb.AppendNull()
	rec := bld.NewRecordBatch()
	defer rec.Release()

	path := filepath.Join(t.TempDir(), "out.jsonl")
	sink, err := jsonl.NewSink(path, schema)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sink.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := `{"s":"a\"b\n\u0001\ufffd","f":1e+21,"ts":"1970-01-01T09:00:01.5+09:00","b":"AAEC","l":[1,2]}` + "\n" +
		`{"s":null,"f":0.000001,"ts":null,"b":null,"l":null}` + "\n"
	if string(got) != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
}

// TestDeclaredTemporalTypes: a column declared date32 or timestamp reads
// the forms inference reads (ISO with or without an offset) and the
// layouts package csv infers ("2015/01/02 01:00:00", "Jan 2 2000"), and
// integers as raw values; a declared string keeps a timestamp's text.
func TestDeclaredTemporalTypes(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	content := `{"day": "2000-01-02", "at": "2000-01-02T03:04:05Z", "text": "2024-01-01T00:00:00Z"}
{"day": "Jan 2 2000", "at": "2000/01/02 03:04:05"}
{"day": "2000/01/02", "at": "2000-01-02T05:04:05+02:00"}
{"day": 10958, "at": 946782245}
{"day": null, "at": "2000-01-02 03:04:05"}
`
	_, rec := mustRead(t, content, jsonl.WithSchema(schema))
	day, at, text := rec.Column(0).(*array.Date32), rec.Column(1).(*array.Timestamp), rec.Column(2).(*array.String)
	for i := 0; i < 5; i++ {
		if i < 4 && (day.IsNull(i) || day.Value(i) != 10958) {
			t.Errorf("row %d: day %v, want 10958 (2000-01-02)", i, day.ValueStr(i))
		}
		if at.IsNull(i) || at.Value(i) != 946782245 {
			t.Errorf("row %d: at %v, want 946782245 (2000-01-02T03:04:05Z)", i, at.ValueStr(i))
		}
	}
	if !day.IsNull(4) || text.Value(0) != "2024-01-01T00:00:00Z" || !text.IsNull(1) {
		t.Errorf("day[4] %v, text %v", day.ValueStr(4), text)
	}
}
