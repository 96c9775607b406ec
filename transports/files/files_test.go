package files_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
	"github.com/pcs-dev/pcs/transports/files"
	"github.com/pcs-dev/pcs/transports/parquet"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// makeBatch returns rows [start, start+n): id, price id+0.5 (null every
// 7th row), name "n<id>".
func makeBatch(mem memory.Allocator, start, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for i := start; i < start+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		if i%7 == 6 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Float64Builder).Append(float64(i) + 0.5)
		}
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("n%d", i))
	}
	return b.NewRecordBatch()
}

// rowStrings renders every row of recs as "v1|v2|...", dictionary
// columns as their values, so that files of different formats compare.
func rowStrings(recs []arrow.RecordBatch) []string {
	var out []string
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			cells := make([]string, rec.NumCols())
			for j, col := range rec.Columns() {
				cells[j] = cellString(col, i)
			}
			out = append(out, strings.Join(cells, "|"))
		}
	}
	return out
}

func cellString(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "null"
	}
	if d, ok := col.(*array.Dictionary); ok {
		return d.Dictionary().ValueStr(d.GetValueIndex(i))
	}
	return col.ValueStr(i)
}

// readAll reads src to the end; the caller releases the batches.
func readAll(t *testing.T, src transports.Source) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, rec)
	}
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// writeFile writes batches of the given sizes to a new file at path with
// Create and closes it.
func writeFile(t *testing.T, mem memory.Allocator, path string, sizes ...int64) {
	t.Helper()
	ctx := context.Background()
	sink, err := files.Create(path, testSchema, files.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	var start int64
	for _, n := range sizes {
		rec := makeBatch(mem, start, n)
		err := sink.Write(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		start += n
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]files.Format{
		"a.parquet": files.Parquet, "A.PARQUET": files.Parquet,
		"a.arrow": files.ArrowFile, "a.ipc": files.ArrowFile, "a.feather": files.ArrowFile,
		"a.arrows": files.ArrowStream,
		"a.csv":    files.CSV, "a.tsv": files.CSV,
		"a.jsonl": files.JSONL, "a.ndjson": files.JSONL,
	} {
		got, err := files.FormatOf(filepath.Join("dir", name))
		if err != nil || got != want {
			t.Errorf("FormatOf(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"a.txt", "a", "a.parquet.gz"} {
		_, err := files.FormatOf(name)
		if !errors.Is(err, files.ErrUnknownFormat) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), ".jsonl") {
			t.Errorf("FormatOf(%s): %v", name, err)
		}
	}
}

func TestFormatString(t *testing.T) {
	var got []string
	for f := files.Parquet; f <= files.JSONL; f++ {
		got = append(got, f.String())
	}
	if want := []string{"parquet", "arrow file", "arrow stream", "csv", "jsonl"}; !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
	if s := files.Format(0).String(); s != "Format(0)" {
		t.Errorf("zero Format: %q", s)
	}
}

func TestSniff(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	// Real files of each format, then the same bytes under names that
	// say nothing (or lie): the first bytes decide.
	for _, tc := range []struct {
		name string
		want files.Format
	}{
		{"a.parquet", files.Parquet},
		{"a.arrow", files.ArrowFile},
		{"a.arrows", files.ArrowStream},
		{"a.csv", files.CSV},
		{"a.jsonl", files.JSONL},
	} {
		path := filepath.Join(dir, tc.name)
		writeFile(t, mem, path, 3)
		if got, err := files.Sniff(path); err != nil || got != tc.want {
			t.Errorf("Sniff(%s) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
		if tc.want == files.CSV {
			continue // CSV has no magic: only its name tells
		}
		bare := filepath.Join(dir, "bare-"+strings.TrimPrefix(filepath.Ext(tc.name), "."))
		lying := filepath.Join(dir, "lying-"+tc.name+".csv")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{bare, lying} {
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if p == lying && want == files.JSONL {
				want = files.CSV // text: the name decides
			}
			if got, err := files.Sniff(p); err != nil || got != want {
				t.Errorf("Sniff(%s) = %v, %v; want %v", filepath.Base(p), got, err, want)
			}
		}
	}

	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got, err := files.Sniff(write("bom-json", "\xEF\xBB\xBF\n  {\"a\": 1}\n")); err != nil || got != files.JSONL {
		t.Errorf("JSON Lines after a BOM: %v, %v", got, err)
	}
	if got, err := files.Sniff(write("empty.csv", "")); err != nil || got != files.CSV {
		t.Errorf("empty .csv: %v, %v", got, err)
	}
	for name, content := range map[string]string{"notes.txt": "just some text\n", "empty": "", "array.json": "[1, 2]\n"} {
		p := write(name, content)
		_, err := files.Sniff(p)
		if !errors.Is(err, files.ErrUnknownFormat) {
			t.Errorf("%s: %v, want ErrUnknownFormat", name, err)
			continue
		}
		for _, want := range []string{p, "neither Parquet nor Arrow", ".parquet", ".csv", ".jsonl"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error lacks %q: %v", name, want, err)
			}
		}
	}
	if _, err := files.Sniff(filepath.Join(dir, "nope.parquet")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.parquet") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := files.Sniff(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}

// TestRoundTrip writes every format with Create and reads it back with
// Open: the rows are equal.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"rt.parquet", "rt.arrow", "rt.ipc", "rt.feather", "rt.arrows", "rt.csv", "rt.tsv", "rt.jsonl", "rt.ndjson"} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), name)
			writeFile(t, mem, path, 100, 0, 55)
			src, err := files.Open(path, files.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if !src.Schema().Equal(testSchema) {
				t.Errorf("schema:\n%s", src.Schema())
			}
			got := readAll(t, src)
			defer release(got)
			want := makeBatch(mem, 0, 155)
			defer want.Release()
			if g, w := rowStrings(got), rowStrings([]arrow.RecordBatch{want}); !slices.Equal(g, w) {
				t.Fatalf("rows differ: %d rows, want %d\nfirst: %q, want %q", len(g), len(w), g[:min(3, len(g))], w[:3])
			}
			if name == "rt.tsv" {
				b, _ := os.ReadFile(path)
				if !strings.HasPrefix(string(b), "id\tprice\tname\n") {
					t.Errorf(".tsv is not tab-separated: %q", b[:min(len(b), 30)])
				}
			}
		})
	}
}

func TestOpenColumns(t *testing.T) {
	for _, name := range []string{"c.parquet", "c.arrow", "c.arrows", "c.csv", "c.jsonl"} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), name)
			writeFile(t, mem, path, 20, 10)
			src, err := files.Open(path, files.WithAllocator(mem), files.WithColumns("name", "id"))
			if err != nil {
				t.Fatal(err)
			}
			if got := src.Schema().String(); !strings.Contains(got, "name: type=utf8") || src.Schema().NumFields() != 2 || src.Schema().Field(1).Name != "id" {
				t.Errorf("schema:\n%s", got)
			}
			got := readAll(t, src)
			rows := rowStrings(got)
			release(got)
			src.Close()
			if len(rows) != 30 || rows[0] != "n0|0" || rows[29] != "n29|29" {
				t.Errorf("rows %d: %q ... %q", len(rows), rows[0], rows[len(rows)-1])
			}

			_, err = files.Open(path, files.WithAllocator(mem), files.WithColumns("id", "nope"))
			if !errors.Is(err, files.ErrUnknownColumn) {
				t.Fatalf("unknown column: %v", err)
			}
			for _, want := range []string{`"nope"`, name, "id, price, name"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		})
	}
}

func TestOpenBatchRows(t *testing.T) {
	for _, name := range []string{"b.parquet", "b.arrow", "b.arrows", "b.csv", "b.jsonl"} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), name)
			writeFile(t, mem, path, 250, 30)
			src, err := files.Open(path, files.WithAllocator(mem), files.WithBatchRows(100), files.WithParallel(true))
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, src)
			var sizes []int64
			for _, r := range got {
				sizes = append(sizes, r.NumRows())
			}
			rows := rowStrings(got)
			release(got)
			if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			want := []int64{100, 100, 80}
			if strings.HasPrefix(filepath.Ext(name), ".arrow") {
				want = []int64{100, 100, 50, 30} // batches as written, sliced
			}
			if !slices.Equal(sizes, want) {
				t.Errorf("batch sizes %v, want %v", sizes, want)
			}
			if len(rows) != 280 || rows[279] != "279|null|n279" {
				t.Errorf("%d rows, last %q", len(rows), rows[len(rows)-1])
			}
		})
	}
}

// TestOpenTyped checks that Open returns the format package's source, so
// that its own methods stay reachable.
func TestOpenTyped(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	pq := filepath.Join(dir, "t.parquet")
	writeFile(t, mem, pq, 42)
	src, err := files.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := src.(*parquet.Source); !ok || p.NumRows() != 42 {
		t.Errorf("Open(parquet) = %T", src)
	}
	src.Close()
	ar := filepath.Join(dir, "t.arrows")
	writeFile(t, mem, ar, 42)
	src, err = files.Open(ar)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := src.(*arrowfile.Source); !ok || a.Format() != arrowfile.FormatStream {
		t.Errorf("Open(arrows) = %T", src)
	}
	src.Close()
}

// TestCreateAtomic checks every format: nothing appears under the final
// name before Close, the complete file does after it, and a Close with a
// done ctx leaves nothing at all (nor an earlier file replaced).
func TestCreateAtomic(t *testing.T) {
	for _, name := range []string{"a.parquet", "a.arrow", "a.arrows", "a.csv", "a.jsonl"} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			sink, err := files.Create(path, testSchema, files.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			rec := makeBatch(mem, 0, 10)
			defer rec.Release()
			if err := sink.Write(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if err := sink.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("final name exists before Close: %v", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), "."+name+".") {
				t.Fatalf("want one hidden temporary file, have %v", ents)
			}
			if err := sink.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 || ents[0].Name() != name {
				t.Fatalf("after Close: %v", ents)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			// A second sink over the same name, abandoned.
			sink, err = files.Create(path, testSchema, files.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			big := makeBatch(mem, 0, 1000)
			err = sink.Write(ctx, big)
			big.Release()
			if err != nil {
				t.Fatal(err)
			}
			done, cancel := context.WithCancel(ctx)
			cancel()
			if err := sink.Close(done); !errors.Is(err, context.Canceled) {
				t.Fatalf("Close(done ctx) = %v", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 || ents[0].Name() != name {
				t.Fatalf("after an abandoned sink: %v", ents)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Fatalf("the abandoned sink replaced the complete file")
			}
		})
	}
}

func TestCreateOptions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()

	for _, tc := range []struct {
		name string
		opt  files.Option
	}{
		{"WithPartitionBy", files.WithPartitionBy("name")},
		{"WithRollRows", files.WithRollRows(10)},
		{"WithRollBytes", files.WithRollBytes(1 << 20)},
	} {
		for _, name := range []string{"x.arrow", "x.arrows", "x.csv", "x.jsonl"} {
			path := filepath.Join(dir, name)
			_, err := files.Create(path, testSchema, tc.opt)
			if !errors.Is(err, files.ErrUnsupported) || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s on %s: %v", tc.name, name, err)
			}
		}
		if _, err := files.Open(filepath.Join(dir, "x.parquet"), tc.opt); !errors.Is(err, files.ErrUnsupported) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s given to Open: %v", tc.name, err)
		}
	}
	for _, opt := range []files.Option{files.WithColumns("id"), files.WithBatchRows(5), files.WithParallel(true)} {
		if _, err := files.Create(filepath.Join(dir, "x.parquet"), testSchema, opt); !errors.Is(err, files.ErrUnsupported) {
			t.Errorf("Open option given to Create: %v", err)
		}
	}
	for _, opt := range []files.Option{files.WithColumns(), files.WithColumns("a", "a"), files.WithBatchRows(0),
		files.WithRollRows(0), files.WithRollBytes(-1), files.WithAllocator(nil), files.WithFormat(0), files.WithFormat(99)} {
		if _, err := files.Create(filepath.Join(dir, "x.parquet"), testSchema, opt); !errors.Is(err, files.ErrInvalidOption) {
			t.Errorf("invalid option: %v", err)
		}
	}
	if _, err := files.Create(filepath.Join(dir, "x.txt"), testSchema); !errors.Is(err, files.ErrUnknownFormat) {
		t.Errorf("unknown extension: %v", err)
	}

	// Rolling Parquet: numbered files, each complete.
	path := filepath.Join(dir, "roll.parquet")
	sink, err := files.Create(path, testSchema, files.WithAllocator(mem), files.WithRollRows(40))
	if err != nil {
		t.Fatal(err)
	}
	rec := makeBatch(mem, 0, 100)
	if err := sink.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{40, 40, 20} {
		p := filepath.Join(dir, fmt.Sprintf("roll-%05d.parquet", i))
		src, err := files.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := src.(*parquet.Source).NumRows(); n != want {
			t.Errorf("%s: %d rows, want %d", p, n, want)
		}
		src.Close()
	}

	// WithFormat overrides the name.
	odd := filepath.Join(dir, "data.bin")
	sink, err = files.Create(odd, testSchema, files.WithFormat(files.ArrowStream))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := files.Sniff(odd); err != nil || f != files.ArrowStream {
		t.Errorf("WithFormat(ArrowStream) wrote %v, %v", f, err)
	}
	src, err := files.Open(odd, files.WithFormat(files.ArrowStream))
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, src); len(got) != 0 {
		t.Errorf("empty stream read %d batches", len(got))
	}
	src.Close()
}

// TestOpenSchema: with a declared schema, CSV and JSONL parse the
// declared columns as declared (a timestamp-looking string stays the
// string it is), missing declared columns read as nulls, and only the
// declared columns come back, in declared order; Parquet and Arrow files
// keep their types and name a missing column in the error.
func TestOpenSchema(t *testing.T) {
	declared := arrow.NewSchema([]arrow.Field{
		{Name: "at", Type: arrow.BinaryTypes.String},
		{Name: "word", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	dir := t.TempDir()
	texts := map[string]string{
		"s.csv":   "n,at,other\n1,2024-01-01 00:00:00Z,x\n2,2024-01-01 00:00:01Z,y\n",
		"s.jsonl": `{"n": 1, "at": "2024-01-01 00:00:00Z", "other": "x"}` + "\n" + `{"n": 2, "at": "2024-01-01 00:00:01Z", "other": "y"}` + "\n",
	}
	for name, content := range texts {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			// Without a schema the reader infers a timestamp.
			src, err := files.Open(path, files.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			if f, _ := src.Schema().FieldsByName("at"); f[0].Type.ID() != arrow.TIMESTAMP {
				t.Fatalf("inferred %s, want a timestamp (the case WithSchema is for)", f[0].Type)
			}
			src.Close()

			src, err = files.Open(path, files.WithAllocator(mem), files.WithSchema(declared))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var names []string
			for _, f := range src.Schema().Fields() {
				names = append(names, f.Name+":"+f.Type.String())
			}
			if want := []string{"at:utf8", "word:utf8", "n:float64"}; !slices.Equal(names, want) {
				t.Fatalf("schema %v, want %v", names, want)
			}
			got := readAll(t, src)
			defer release(got)
			if rows, want := rowStrings(got), []string{"2024-01-01 00:00:00Z|null|1", "2024-01-01 00:00:01Z|null|2"}; !slices.Equal(rows, want) {
				t.Errorf("rows %q, want %q", rows, want)
			}
		})
	}
	for _, name := range []string{"s.parquet", "s.arrow"} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(dir, name)
			writeFile(t, mem, path, 5)
			sc := arrow.NewSchema([]arrow.Field{{Name: "name", Type: arrow.BinaryTypes.String}, {Name: "id", Type: arrow.PrimitiveTypes.Int32}}, nil)
			src, err := files.Open(path, files.WithAllocator(mem), files.WithSchema(sc))
			if err != nil {
				t.Fatal(err)
			}
			// The file's types: id stays int64.
			if got := src.Schema().String(); !strings.Contains(got, "name: type=utf8") || !strings.Contains(got, "id: type=int64") || src.Schema().NumFields() != 2 {
				t.Errorf("schema:\n%s", got)
			}
			got := readAll(t, src)
			if rows := rowStrings(got); len(rows) != 5 || rows[4] != "n4|4" {
				t.Errorf("rows %q", rows)
			}
			release(got)
			src.Close()

			missing := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "word", Type: arrow.BinaryTypes.String}}, nil)
			_, err = files.Open(path, files.WithAllocator(mem), files.WithSchema(missing))
			if !errors.Is(err, files.ErrUnknownColumn) {
				t.Fatalf("missing declared column: %v", err)
			}
			for _, want := range []string{`"word"`, name, "id, price, name"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	if _, err := files.Open(filepath.Join(dir, "s.csv"), files.WithSchema(declared), files.WithColumns("n")); !errors.Is(err, files.ErrInvalidOption) {
		t.Errorf("WithSchema and WithColumns: %v", err)
	}
	if _, err := files.Open(filepath.Join(dir, "s.csv"), files.WithSchema(nil)); !errors.Is(err, files.ErrInvalidOption) {
		t.Errorf("nil schema: %v", err)
	}
}

// TestOpenSchemaTextTypes: through WithSchema, CSV and JSONL read a
// declared date or timestamp in every form inference reads (the layouts
// "2015/01/02 01:00:00" and "Jan 2 2000" too), a declared dictionary as
// its value type and a duration as int64 (the text they hold, for the
// caller to convert), present or missing.
func TestOpenSchemaTextTypes(t *testing.T) {
	declared := arrow.NewSchema([]arrow.Field{
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "city", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
		{Name: "took", Type: &arrow.DurationType{Unit: arrow.Second}, Nullable: true},
		{Name: "gone", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	}, nil)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"t.csv":   "at,day,city,took\n2015/01/02 01:00:00,Jan 2 2000,Paris,5\n2015-01-02T01:00:00Z,2000/01/02,Oslo,6\n",
		"t.jsonl": `{"at": "2015/01/02 01:00:00", "day": "Jan 2 2000", "city": "Paris", "took": 5}` + "\n" + `{"at": "2015-01-02T01:00:00Z", "day": "2000/01/02", "city": "Oslo", "took": 6}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := files.Open(path, files.WithAllocator(mem), files.WithSchema(declared))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var types []string
			for _, f := range src.Schema().Fields() {
				types = append(types, f.Type.String())
			}
			want := []string{"timestamp[s]", "date32", "utf8", "int64", "utf8"}
			if !slices.Equal(types, want) {
				t.Fatalf("types %v, want %v", types, want)
			}
			got := readAll(t, src)
			defer release(got)
			if rows, want := rowStrings(got), []string{"2015-01-02T01:00:00|2000-01-02|Paris|5|null", "2015-01-02T01:00:00|2000-01-02|Oslo|6|null"}; !slices.Equal(rows, want) {
				t.Errorf("rows %q, want %q", rows, want)
			}
		})
	}
}
