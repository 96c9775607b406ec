package parquet_test

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
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/parquet"
)

func TestRoundTripCodecs(t *testing.T) {
	for _, codec := range []parquet.Codec{
		parquet.CodecNone, parquet.CodecZstd, parquet.CodecSnappy,
		parquet.CodecLZ4, parquet.CodecGzip, parquet.CodecBrotli,
	} {
		t.Run(string(codec), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), "rt.parquet")

			sink, err := parquet.NewSink(path, testSchema,
				parquet.WithCompression(codec), parquet.WithRowGroupRows(3000), parquet.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, sink, 10_000, 1234)
			if got := sink.Files(); len(got) != 1 || got[0] != path {
				t.Fatalf("Files() = %v, want [%s]", got, path)
			}

			// The codec is recorded in the file.
			pf, err := file.OpenParquetFile(path, false)
			if err != nil {
				t.Fatal(err)
			}
			md := pf.MetaData()
			if md.NumRowGroups() != 4 {
				t.Errorf("row groups = %d, want 4 (3000 rows each, 1000 last)", md.NumRowGroups())
			}
			cc, err := md.RowGroup(0).ColumnChunk(0)
			if err != nil {
				t.Fatal(err)
			}
			wantCodec := map[parquet.Codec]string{
				parquet.CodecNone: "UNCOMPRESSED", parquet.CodecZstd: "ZSTD", parquet.CodecSnappy: "SNAPPY",
				parquet.CodecLZ4: "LZ4_RAW", parquet.CodecGzip: "GZIP", parquet.CodecBrotli: "BROTLI",
			}[codec]
			if got := cc.Compression().String(); got != wantCodec {
				t.Errorf("column compression = %s, want %s", got, wantCodec)
			}
			pf.Close()

			src, err := parquet.NewSource(path, parquet.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if !src.Schema().Equal(testSchema) {
				t.Fatalf("schema read back:\n%s\nwant:\n%s", src.Schema(), testSchema)
			}
			if src.NumRows() != 10_000 || src.NumRowGroups() != 4 {
				t.Fatalf("NumRows = %d, NumRowGroups = %d", src.NumRows(), src.NumRowGroups())
			}
			ids, _ := readAll(t, src)
			if !equalInts(ids, seq(0, 10_000)) {
				t.Fatalf("ids read back are not 0..9999 in order (%d ids)", len(ids))
			}
		})
	}
}

func TestRoundTripParallel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "p.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithRowGroupRows(4000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sink, 9000, 3000)
	src, err := parquet.NewSource(path, parquet.WithParallel(true), parquet.WithBatchRows(2500), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ids, sizes := readAll(t, src)
	if !equalInts(ids, seq(0, 9000)) {
		t.Fatalf("parallel read: wrong ids (%d)", len(ids))
	}
	if !equalInts(sizes, []int64{2500, 2500, 2500, 1500}) {
		t.Fatalf("batch sizes = %v, want [2500 2500 2500 1500] (batches span row groups)", sizes)
	}
}

func TestBatchesOutliveReadsAndClose(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "keep.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithRowGroupRows(1000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sink, 5000, 5000)

	src, err := parquet.NewSource(path, parquet.WithBatchRows(700), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	var kept []arrow.RecordBatch
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, rec)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, rec := range kept {
		ids = append(ids, checkRows(t, rec)...)
		rec.Release()
	}
	if !equalInts(ids, seq(0, 5000)) {
		t.Fatalf("kept batches hold wrong ids (%d)", len(ids))
	}
}

func TestProjection(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "proj.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithRowGroupRows(1000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sink, 2500, 2500)

	t.Run("order-as-asked", func(t *testing.T) {
		src, err := parquet.NewSource(path, parquet.WithColumns("s", "id", "ts"), parquet.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		want := arrow.NewSchema([]arrow.Field{testSchema.Field(2), testSchema.Field(0), testSchema.Field(4)}, nil)
		if !src.Schema().Equal(want) {
			t.Fatalf("projected schema:\n%s\nwant:\n%s", src.Schema(), want)
		}
		ids, _ := readAll(t, src)
		if !equalInts(ids, seq(0, 2500)) {
			t.Fatalf("wrong ids (%d)", len(ids))
		}
	})
	t.Run("unknown-column", func(t *testing.T) {
		_, err := parquet.NewSource(path, parquet.WithColumns("id", "nope"), parquet.WithAllocator(mem))
		if !errors.Is(err, parquet.ErrUnknownColumn) {
			t.Fatalf("err = %v, want ErrUnknownColumn", err)
		}
		if msg := err.Error(); !strings.Contains(msg, `"nope"`) || !strings.Contains(msg, path) {
			t.Fatalf("error %q does not name the column and the file", msg)
		}
	})
	t.Run("bad-lists", func(t *testing.T) {
		for name, opt := range map[string]parquet.SourceOption{
			"empty":       parquet.WithColumns(),
			"twice":       parquet.WithColumns("id", "id"),
			"batch0":      parquet.WithBatchRows(0),
			"rg-twice":    parquet.WithRowGroups(1, 1),
			"rg-range":    parquet.WithRowGroups(0, 3),
			"rg-negative": parquet.WithRowGroups(-1),
		} {
			if _, err := parquet.NewSource(path, opt, parquet.WithAllocator(mem)); !errors.Is(err, parquet.ErrInvalidOption) {
				t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
			}
		}
	})
}

func TestRowGroupSelection(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "rg.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithRowGroupRows(1000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sink, 5500, 800)

	tests := []struct {
		name   string
		groups []int
		want   []int64
	}{
		{"one", []int{2}, seq(2000, 3000)},
		{"given-order", []int{4, 1}, append(seq(4000, 5000), seq(1000, 2000)...)},
		{"short-last", []int{5, 0}, append(seq(5000, 5500), seq(0, 1000)...)},
		{"none", []int{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := parquet.NewSource(path, parquet.WithRowGroups(tc.groups...),
				parquet.WithColumns("id", "s"), parquet.WithBatchRows(300), parquet.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.NumRows() != int64(len(tc.want)) || src.NumRowGroups() != 6 {
				t.Fatalf("NumRows = %d, want %d; NumRowGroups = %d, want 6", src.NumRows(), len(tc.want), src.NumRowGroups())
			}
			if src.Schema().NumFields() != 2 {
				t.Fatalf("schema: %s", src.Schema())
			}
			ids, _ := readAll(t, src)
			if !equalInts(ids, tc.want) {
				t.Fatalf("ids: got %d rows, want %d (first got %v)", len(ids), len(tc.want), ids[:min(3, len(ids))])
			}
		})
	}
}

func TestEOFAndClose(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "eof.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sink, 10, 10)

	src, err := parquet.NewSource(path, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec, err := src.Read(ctx)
	if err != nil || rec.NumRows() != 10 {
		t.Fatalf("first read: %v", err)
	}
	rec.Release()
	for i := 0; i < 3; i++ {
		if rec, err := src.Read(ctx); !errors.Is(err, io.EOF) || rec != nil {
			t.Fatalf("read %d after the end: %v, %v", i, rec, err)
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := src.Read(ctx); !errors.Is(err, parquet.ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}
}

func TestEmpty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "empty.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	empty := makeBatch(mem, 0, 0)
	if err := sink.Write(ctx, empty); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	empty.Release()
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}

	src, err := parquet.NewSource(path, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if !src.Schema().Equal(testSchema) || src.NumRows() != 0 || src.NumRowGroups() != 0 {
		t.Fatalf("empty file: rows %d, groups %d, schema %s", src.NumRows(), src.NumRowGroups(), src.Schema())
	}
	if _, err := src.Read(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Read of empty file: %v, want io.EOF", err)
	}

	// A projection of an empty file still has its schema.
	src2, err := parquet.NewSource(path, parquet.WithColumns("ts", "id"), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	if got := src2.Schema(); got.NumFields() != 2 || got.Field(0).Name != "ts" || got.Field(1).Name != "id" {
		t.Fatalf("projected empty schema: %s", got)
	}
}

func TestSchemaMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mm.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}}, nil)
	b := array.NewRecordBuilder(mem, other)
	b.Field(0).(*array.Int32Builder).AppendValues([]int32{1, 2, 3}, nil)
	bad := b.NewRecordBatch()
	b.Release()
	defer bad.Release()

	err = sink.Write(ctx, bad)
	if !errors.Is(err, transports.ErrSchemaMismatch) {
		t.Fatalf("err = %v, want ErrSchemaMismatch", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "int32") || !strings.Contains(msg, "uint32") || !strings.Contains(msg, "Europe/Paris") {
		t.Fatalf("error does not show both schemas: %s", msg)
	}
	// The sink stays usable.
	good := makeBatch(mem, 0, 5)
	defer good.Release()
	if err := sink.Write(ctx, good); err != nil {
		t.Fatalf("write after mismatch: %v", err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, good); !errors.Is(err, parquet.ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "ctx.parquet")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ctx := context.Background()

	sink, err := parquet.NewSink(path, testSchema, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	rec := makeBatch(mem, 0, 100)
	defer rec.Release()
	if err := sink.Write(cancelled, rec); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write with cancelled ctx: %v", err)
	}
	if err := sink.Flush(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush with cancelled ctx: %v", err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		t.Fatalf("Write after a cancelled call: %v", err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := parquet.NewSource(path, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if src.NumRows() != 100 {
		t.Fatalf("rows = %d, want 100 (the cancelled Write must not buffer)", src.NumRows())
	}
	if _, err := src.Read(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with cancelled ctx: %v", err)
	}
	ids, _ := readAll(t, src)
	if !equalInts(ids, seq(0, 100)) {
		t.Fatalf("read after a cancelled Read: %d ids", len(ids))
	}
	src.Close()

	// Close with a cancelled context abandons the file.
	path2 := filepath.Join(dir, "abandoned.parquet")
	sink2, err := parquet.NewSink(path2, testSchema, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink2.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := sink2.Close(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with cancelled ctx: %v", err)
	}
	if _, err := os.Stat(path2); !os.IsNotExist(err) {
		t.Fatalf("abandoned file still exists: %v", err)
	}
	if got := sink2.Files(); len(got) != 0 {
		t.Fatalf("Files() after abandon = %v", got)
	}
}

func TestRollRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "out.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithRollRows(2500),
		parquet.WithRowGroupRows(1000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sink, 10_500, 700)

	files := sink.Files()
	want := []string{"out-00000.parquet", "out-00001.parquet", "out-00002.parquet", "out-00003.parquet", "out-00004.parquet"}
	if len(files) != len(want) {
		t.Fatalf("files = %v, want %v", files, want)
	}
	var all []int64
	for i, f := range files {
		if filepath.Base(f) != want[i] {
			t.Fatalf("file %d = %s, want %s", i, f, want[i])
		}
		src, err := parquet.NewSource(f, parquet.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		wantRows := int64(2500)
		if i == 4 {
			wantRows = 500
		}
		if src.NumRows() != wantRows {
			t.Errorf("%s: %d rows, want %d", f, src.NumRows(), wantRows)
		}
		if i < 4 && src.NumRowGroups() != 3 {
			t.Errorf("%s: %d row groups, want 3 (1000, 1000, 500)", f, src.NumRowGroups())
		}
		ids, _ := readAll(t, src)
		all = append(all, ids...)
		src.Close()
	}
	if !equalInts(all, seq(0, 10_500)) {
		t.Fatalf("rows over all files: %d", len(all))
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("with rolling, %s itself must not be written", path)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 5 {
		t.Fatalf("directory has %d entries, want 5", len(entries))
	}
}

func TestRollBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const target = 64 << 10
	path := filepath.Join(t.TempDir(), "bytes")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithRollBytes(target),
		parquet.WithRowGroupRows(5000), parquet.WithCompression(parquet.CodecSnappy), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sink, 60_000, 3000)

	files := sink.Files()
	if len(files) < 4 {
		t.Fatalf("%d files for 60k rows at %d bytes each: %v", len(files), target, files)
	}
	var all []int64
	for i, f := range files {
		if want := fmt.Sprintf("%s-%05d", path, i); f != want {
			t.Fatalf("file %d is %s, want %s", i, f, want)
		}
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		// Files land near the target. The first file has no measured
		// footer size yet and may exceed it by the footer; later files
		// stay within a few percent; all but the last are not far below.
		limit := int64(target * 21 / 20)
		if i == 0 {
			limit = target * 5 / 4
		}
		if st.Size() > limit {
			t.Errorf("%s: %d bytes, more than %d (target %d)", f, st.Size(), limit, target)
		}
		if i < len(files)-1 && st.Size() < target*3/4 {
			t.Errorf("%s: %d bytes, less than 3/4 of %d", f, st.Size(), target)
		}
		src, err := parquet.NewSource(f, parquet.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := readAll(t, src)
		all = append(all, ids...)
		src.Close()
	}
	if !equalInts(all, seq(0, 60_000)) {
		t.Fatalf("rows over all files: %d", len(all))
	}
}

func TestAtomicRename(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.parquet")
	sink, err := parquet.NewSink(path, testSchema, parquet.WithAtomicRename(true),
		parquet.WithRollRows(1000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	visible := func() []string {
		t.Helper()
		var names []string
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
		return names
	}
	if got := visible(); len(got) != 0 {
		t.Fatalf("before any row, visible files: %v", got)
	}
	rec := makeBatch(mem, 0, 1500)
	err = sink.Write(ctx, rec)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if got := visible(); len(got) != 1 || got[0] != "a-00000.parquet" {
		t.Fatalf("after the first roll, visible files: %v (want only the complete a-00000.parquet)", got)
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := visible(); len(got) != 1 {
		t.Fatalf("after Flush, visible files: %v", got)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || entries[0].Name() != "a-00000.parquet" || entries[1].Name() != "a-00001.parquet" {
		t.Fatalf("after Close: %v", entries)
	}
	for _, e := range entries {
		if info, _ := e.Info(); info.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", e.Name(), info.Mode().Perm())
		}
	}

	// Abandoned atomic sinks leave nothing behind.
	sink2, err := parquet.NewSink(filepath.Join(dir, "b.parquet"), testSchema, parquet.WithAtomicRename(true), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := sink2.Close(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("after abandon: %v", entries)
	}
}

func TestCopy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	sink, err := parquet.NewSink(in, testSchema, parquet.WithRowGroupRows(1000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sink, 3500, 3500)

	src, err := parquet.NewSource(in, parquet.WithColumns("id", "s", "ts"), parquet.WithBatchRows(1000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := filepath.Join(dir, "out.parquet")
	dst, err := parquet.NewSink(out, src.Schema(), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	st, err := transports.Copy(ctx, dst, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 3500 || st.Batches != 4 {
		t.Fatalf("copy stats %+v", st)
	}
	if err := dst.Close(ctx); err != nil {
		t.Fatal(err)
	}
	back, err := parquet.NewSource(out, parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if !back.Schema().Equal(src.Schema()) {
		t.Fatalf("copied schema %s", back.Schema())
	}
	ids, _ := readAll(t, back)
	if !equalInts(ids, seq(0, 3500)) {
		t.Fatalf("copied ids: %d", len(ids))
	}
}

func TestSinkErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		path string
		sc   *arrow.Schema
		opts []parquet.SinkOption
	}{
		"codec":     {filepath.Join(dir, "x.parquet"), testSchema, []parquet.SinkOption{parquet.WithCompression("lzo")}},
		"rg-rows":   {filepath.Join(dir, "x.parquet"), testSchema, []parquet.SinkOption{parquet.WithRowGroupRows(0)}},
		"roll-rows": {filepath.Join(dir, "x.parquet"), testSchema, []parquet.SinkOption{parquet.WithRollRows(-1)}},
		"roll-b":    {filepath.Join(dir, "x.parquet"), testSchema, []parquet.SinkOption{parquet.WithRollBytes(0)}},
		"nil-mem":   {filepath.Join(dir, "x.parquet"), testSchema, []parquet.SinkOption{parquet.WithAllocator(nil)}},
		"nil-sc":    {filepath.Join(dir, "x.parquet"), nil, nil},
	} {
		if _, err := parquet.NewSink(tc.path, tc.sc, tc.opts...); !errors.Is(err, parquet.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := parquet.NewSink(filepath.Join(dir, "no", "such", "dir.parquet"), testSchema); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: err = %v, want os.ErrNotExist", err)
	}
	if _, err := parquet.NewSource(filepath.Join(dir, "missing.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
	notParquet := filepath.Join(dir, "not.parquet")
	if err := os.WriteFile(notParquet, []byte("hello, this is not parquet at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parquet.NewSource(notParquet); err == nil || !strings.Contains(err.Error(), notParquet) {
		t.Errorf("not parquet: err = %v", err)
	}
}
