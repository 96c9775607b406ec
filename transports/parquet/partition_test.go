package parquet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// partSchema has its two partition columns (region, year) between data
// columns, so dropping them is visible.
var partSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Float64},
	{Name: "year", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
}, nil)

// Key values of the test rows and the directory value each must get,
// written out by hand (not computed with the package's escaping).
var (
	regions = []struct {
		v    *string
		want string
	}{
		{ptr("eu"), "eu"},
		{ptr("us/east"), "us%2Feast"},
		{ptr("a=b%c"), "a%3Db%25c"},
		{nil, "__HIVE_DEFAULT_PARTITION__"},
		{ptr("tab\there:?"), "tab%09here%3A%3F"},
		{ptr("café ü"), "café ü"},
		{ptr(""), "__HIVE_DEFAULT_PARTITION__"}, // Hive and Spark: "" is the default partition too
	}
	years = []struct {
		v    *int32
		want string
	}{
		{ptr[int32](2025), "2025"},
		{ptr[int32](-7), "-7"},
		{nil, "__HIVE_DEFAULT_PARTITION__"},
	}
)

func ptr[T any](v T) *T { return &v }

// partRegion and partYear give the keys of row r: the periods 7 and 3
// (years change every 5 rows) mix all combinations.
func partRegion(r int64) int { return int(r % int64(len(regions))) }
func partYear(r int64) int   { return int((r / 5) % int64(len(years))) }

// partDir is the expected directory of row r, from the tables above.
func partDir(r int64) string {
	return "region=" + regions[partRegion(r)].want + "/year=" + years[partYear(r)].want
}

// makePartBatch returns rows [start, start+n).
func makePartBatch(mem memory.Allocator, start, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, partSchema)
	defer b.Release()
	for r := start; r < start+n; r++ {
		b.Field(0).(*array.Int64Builder).Append(r)
		if v := regions[partRegion(r)].v; v == nil {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(*v)
		}
		b.Field(2).(*array.Float64Builder).Append(float64(r) / 4)
		if v := years[partYear(r)].v; v == nil {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Int32Builder).Append(*v)
		}
	}
	return b.NewRecordBatch()
}

// writePart writes rows [0, rows) in batches of batch rows; after each
// write it calls after (if not nil). It does not close the sink.
func writePart(t *testing.T, sink *parquet.Sink, mem memory.Allocator, rows, batch int64, after func()) {
	t.Helper()
	for start := int64(0); start < rows; start += batch {
		rec := makePartBatch(mem, start, min(batch, rows-start))
		err := sink.Write(context.Background(), rec)
		rec.Release()
		if err != nil {
			t.Fatalf("write at row %d: %v", start, err)
		}
		if after != nil {
			after()
		}
	}
}

// partFile is what one written file holds.
type partFile struct {
	dir  string // relative, with '/'
	name string
	ids  []int64
}

// readPartFiles reads every file of the sink, checks its schema (no
// partition columns) and its rows' v column, and returns them in Files
// order.
func readPartFiles(t *testing.T, root string, files []string, mem memory.Allocator) []partFile {
	t.Helper()
	wantSchema := arrow.NewSchema([]arrow.Field{partSchema.Field(0), partSchema.Field(2)}, nil)
	var out []partFile
	for _, f := range files {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		src, err := parquet.NewSource(f, parquet.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		if !src.Schema().Equal(wantSchema) {
			t.Fatalf("%s: schema\n%s\nwant (no partition columns)\n%s", rel, src.Schema(), wantSchema)
		}
		pf := partFile{dir: rel[:strings.LastIndexByte(rel, '/')], name: rel[strings.LastIndexByte(rel, '/')+1:]}
		for {
			rec, err := src.Read(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := rec.Column(0).(*array.Int64).Int64Values()
			vs := rec.Column(1).(*array.Float64).Float64Values()
			for k, id := range ids {
				if vs[k] != float64(id)/4 {
					t.Fatalf("%s: row %d: v = %v", rel, id, vs[k])
				}
			}
			pf.ids = append(pf.ids, ids...)
			rec.Release()
		}
		if err := src.Close(); err != nil {
			t.Fatal(err)
		}
		out = append(out, pf)
	}
	return out
}

// expectedGroups groups rows [0, rows) by partDir, row by row.
func expectedGroups(rows int64) map[string][]int64 {
	want := map[string][]int64{}
	for r := range rows {
		want[partDir(r)] = append(want[partDir(r)], r)
	}
	return want
}

// checkGroups checks that the files of each directory hold, in file
// order, exactly the rows of that directory's key, in input order.
func checkGroups(t *testing.T, got []partFile, rows int64) map[string][]partFile {
	t.Helper()
	byDir := map[string][]partFile{}
	for _, f := range got {
		byDir[f.dir] = append(byDir[f.dir], f)
	}
	want := expectedGroups(rows)
	if len(byDir) != len(want) {
		t.Errorf("%d directories, want %d", len(byDir), len(want))
	}
	for dir, ids := range want {
		var all []int64
		for _, f := range byDir[dir] {
			all = append(all, f.ids...)
		}
		if !slices.Equal(all, ids) {
			t.Errorf("%s: rows %v\nwant %v", dir, all, ids)
		}
	}
	for dir := range byDir {
		if want[dir] == nil {
			t.Errorf("unexpected directory %q", dir)
		}
	}
	return byDir
}

func TestPartitionBy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := filepath.Join(t.TempDir(), "out") // created by NewSink
	sink, err := parquet.NewSink(filepath.Join(root, "part.parquet"), partSchema,
		parquet.WithPartitionBy("region", "year"), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	const rows = 1000
	writePart(t, sink, mem, rows, 97, nil)
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := sink.Files()
	// 6 distinct regions (null and "" share one) x 3 years.
	if len(files) != 18 {
		t.Fatalf("%d files, want 18: %v", len(files), files)
	}
	byDir := checkGroups(t, readPartFiles(t, root, files, mem), rows)
	for dir, fs := range byDir {
		if len(fs) != 1 || fs[0].name != "part-00000.parquet" {
			t.Errorf("%s: files %v, want one part-00000.parquet", dir, fs)
		}
	}
	// The tree holds exactly the listed files (and their directories).
	var onDisk []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			onDisk = append(onDisk, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(onDisk, files) {
		t.Errorf("files on disk %v\nlisted %v", onDisk, files)
	}

	// Read back with the partition columns.
	src, err := parquet.NewSource(filepath.Join(root, "region=a%3Db%25c", "year=__HIVE_DEFAULT_PARTITION__", "part-00000.parquet"),
		parquet.WithHivePartitioning(true), parquet.WithAllocator(mem), parquet.WithBatchRows(5))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	wantSchema := arrow.NewSchema([]arrow.Field{
		partSchema.Field(0), partSchema.Field(2),
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "year", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	if !src.Schema().Equal(wantSchema) {
		t.Fatalf("schema with partitions\n%s\nwant\n%s", src.Schema(), wantSchema)
	}
	n := 0
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Schema().Equal(wantSchema) {
			t.Fatalf("batch schema %s", rec.Schema())
		}
		reg, yr := rec.Column(2).(*array.String), rec.Column(3).(*array.String)
		for i := range int(rec.NumRows()) {
			if reg.IsNull(i) || reg.Value(i) != "a=b%c" || !yr.IsNull(i) {
				t.Fatalf("row %d: region %q (null %v), year null %v", i, reg.Value(i), reg.IsNull(i), yr.IsNull(i))
			}
		}
		n += int(rec.NumRows())
		rec.Release()
	}
	if want := len(expectedGroups(rows)["region=a%3Db%25c/year=__HIVE_DEFAULT_PARTITION__"]); n != want || n == 0 {
		t.Fatalf("read %d rows, want %d", n, want)
	}
}

func TestPartitionRollRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	sink, err := parquet.NewSink(filepath.Join(root, "p.parquet"), partSchema,
		parquet.WithPartitionBy("year", "region"), parquet.WithRollRows(25),
		parquet.WithRowGroupRows(16), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	const rows = 1200
	writePart(t, sink, mem, rows, 250, nil)
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := readPartFiles(t, root, sink.Files(), mem)
	// The partition directories nest in WithPartitionBy order.
	for i := range got {
		y, r, _ := strings.Cut(got[i].dir, "/")
		got[i].dir = r + "/" + y
	}
	byDir := checkGroups(t, got, rows)
	for dir, ids := range expectedGroups(rows) {
		fs := byDir[dir]
		if want := (len(ids) + 24) / 25; len(fs) != want {
			t.Errorf("%s: %d files for %d rows, want %d", dir, len(fs), len(ids), want)
		}
		for i, f := range fs {
			if want := fmt.Sprintf("p-%05d.parquet", i); f.name != want {
				t.Errorf("%s: file %d is %s, want %s", dir, i, f.name, want)
			}
			if i < len(fs)-1 && len(f.ids) != 25 {
				t.Errorf("%s/%s: %d rows, want 25", dir, f.name, len(f.ids))
			}
		}
	}
}

func TestPartitionMaxOpen(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	const maxOpen = 4
	sink, err := parquet.NewSink(filepath.Join(root, "p.parquet"), partSchema,
		parquet.WithPartitionBy("region", "year"), parquet.WithMaxOpenPartitions(maxOpen),
		parquet.WithAtomicRename(true), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	// Files being written are the hidden temporary ones: never more than
	// maxOpen at a time.
	maxTmp := 0
	countTmp := func() {
		n := 0
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".tmp") {
				n++
			}
			return err
		})
		maxTmp = max(maxTmp, n)
	}
	const rows = 600
	writePart(t, sink, mem, rows, 200, countTmp)
	if maxTmp == 0 || maxTmp > maxOpen {
		t.Errorf("up to %d files open at once, want 1..%d", maxTmp, maxOpen)
	}
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := sink.Files()
	byDir := checkGroups(t, readPartFiles(t, root, files, mem), rows)
	reopened := 0
	for dir, fs := range byDir {
		for i, f := range fs {
			if want := fmt.Sprintf("p-%05d.parquet", i); f.name != want {
				t.Errorf("%s: file %d is %s, want %s", dir, i, f.name, want)
			}
		}
		if len(fs) > 1 {
			reopened++
		}
	}
	if reopened == 0 {
		t.Error("no partition was closed and reopened: the test does not exercise the bound")
	}
	countTmp()
	t.Logf("%d files in %d directories, %d reopened", len(files), len(byDir), reopened)
}

func TestPartitionValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Europe/Paris"}, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "x", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	b := array.NewRecordBuilder(mem, sc)
	b.Field(0).(*array.Date32Builder).AppendValues([]arrow.Date32{arrow.Date32FromTime(day), 0}, []bool{true, false})
	b.Field(1).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(day.Add(90*time.Minute + 1500*time.Millisecond).UnixMilli()), 0}, nil)
	b.Field(2).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	b.Field(3).(*array.Uint64Builder).AppendValues([]uint64{1 << 63, 0}, nil)
	b.Field(4).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	root := t.TempDir()
	sink, err := parquet.NewSink(filepath.Join(root, "f.parquet"), sc,
		parquet.WithPartitionBy("d", "ts", "ok", "u"), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range sink.Files() {
		rel, _ := filepath.Rel(root, f)
		got = append(got, filepath.ToSlash(rel))
	}
	want := []string{
		"d=2026-11-21/ts=2026-11-21 01%3A30%3A01.5/ok=true/u=9223372036854775808/f-00000.parquet",
		"d=__HIVE_DEFAULT_PARTITION__/ts=1970-01-01 00%3A00%3A00/ok=false/u=0/f-00000.parquet",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("files\n%q\nwant\n%q", got, want)
	}
}

func TestPartitionOptions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.parquet")
	for _, tc := range []struct {
		name string
		opts []parquet.SinkOption
	}{
		{"unknown column", []parquet.SinkOption{parquet.WithPartitionBy("nope")}},
		{"float column", []parquet.SinkOption{parquet.WithPartitionBy("v")}},
		{"twice", []parquet.SinkOption{parquet.WithPartitionBy("year", "year")}},
		{"none", []parquet.SinkOption{parquet.WithPartitionBy()}},
		{"all columns", nil},
		{"max open 0", []parquet.SinkOption{parquet.WithPartitionBy("year"), parquet.WithMaxOpenPartitions(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := partSchema
			if tc.opts == nil {
				sc = arrow.NewSchema([]arrow.Field{partSchema.Field(3)}, nil)
				tc.opts = []parquet.SinkOption{parquet.WithPartitionBy("year")}
			}
			if _, err := parquet.NewSink(path, sc, tc.opts...); !errors.Is(err, parquet.ErrInvalidOption) {
				t.Fatalf("err = %v, want ErrInvalidOption", err)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed NewSink left %v", entries)
	}
}

func TestPartitionEmptyAndMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	root := t.TempDir()
	sink, err := parquet.NewSink(filepath.Join(root, "p.parquet"), partSchema,
		parquet.WithPartitionBy("region"), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	rec := makeBatch(mem, 0, 3) // the other test schema
	err = sink.Write(ctx, rec)
	rec.Release()
	if !errors.Is(err, transports.ErrSchemaMismatch) {
		t.Fatalf("write: %v, want ErrSchemaMismatch", err)
	}
	empty := makePartBatch(mem, 0, 0)
	err = sink.Write(ctx, empty)
	empty.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if files := sink.Files(); len(files) != 0 {
		t.Fatalf("files %v, want none", files)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("directory has %v", entries)
	}
	empty = makePartBatch(mem, 0, 1)
	defer empty.Release()
	if err := sink.Write(ctx, empty); !errors.Is(err, parquet.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestPartitionAbandon(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	sink, err := parquet.NewSink(filepath.Join(root, "p.parquet"), partSchema,
		parquet.WithPartitionBy("region"), parquet.WithAtomicRename(true), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writePart(t, sink, mem, 100, 100, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sink.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("close: %v", err)
	}
	var left []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return err
	})
	if len(left) != 0 || len(sink.Files()) != 0 {
		t.Fatalf("abandoned sink left %v, lists %v", left, sink.Files())
	}
}

// BenchmarkPartitionWrite writes 64 Ki-row batches with 18 partitions
// (two key columns), against the same rows unpartitioned.
func BenchmarkPartitionWrite(b *testing.B) {
	const rows = 64 << 10
	rec := makePartBatch(memory.DefaultAllocator, 0, rows)
	defer rec.Release()
	for _, by := range [][]string{nil, {"region", "year"}} {
		b.Run(fmt.Sprintf("by=%v", by), func(b *testing.B) {
			opts := []parquet.SinkOption{parquet.WithCompression(parquet.CodecNone)}
			if by != nil {
				opts = append(opts, parquet.WithPartitionBy(by...))
			}
			sink, err := parquet.NewSink(filepath.Join(b.TempDir(), "p.parquet"), partSchema, opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(rows * 8 * 4)
			b.ResetTimer()
			for range b.N {
				if err := sink.Write(context.Background(), rec); err != nil {
					b.Fatal(err)
				}
			}
			if err := sink.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func TestHivePartitioningConflict(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := filepath.Join(t.TempDir(), "id=3", "x=1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "f.parquet")
	sink, err := parquet.NewSink(path, partSchema, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writePart(t, sink, mem, 10, 10, nil)
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := parquet.NewSource(path, parquet.WithHivePartitioning(true), parquet.WithAllocator(mem)); !errors.Is(err, parquet.ErrInvalidOption) {
		t.Fatalf("id=3 over a file with column id: %v, want ErrInvalidOption", err)
	}
	// Without the option the path is not looked at.
	src, err := parquet.NewSource(path, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
}
