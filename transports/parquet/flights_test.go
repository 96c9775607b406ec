package parquet_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/parquet"
)

const flightsFile = "flights-3m.parquet"

// TestFlightsProjectionRowGroup0 reads columns delay and origin of row
// group 0 of the real data set and checks row count, null count, min and
// max of delay against the file's own metadata.
func TestFlightsProjectionRowGroup0(t *testing.T) {
	path := sharedData(t, flightsFile)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	md := pf.MetaData()
	if md.NumRows != 3_000_000 || md.NumRowGroups() != 11 {
		t.Fatalf("data set changed: %d rows, %d row groups", md.NumRows, md.NumRowGroups())
	}
	rg0 := md.RowGroup(0)
	delayIdx := md.Schema.ColumnIndexByName("delay")
	cc, err := rg0.ColumnChunk(delayIdx)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := cc.Statistics()
	if err != nil || stats == nil {
		t.Fatalf("no statistics for delay: %v", err)
	}
	pf.Close()

	src, err := parquet.NewSource(path, parquet.WithColumns("delay", "origin"), parquet.WithRowGroups(0), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := arrow.NewSchema([]arrow.Field{
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "origin", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil)
	if !src.Schema().Equal(want) {
		t.Fatalf("schema:\n%s\nwant:\n%s", src.Schema(), want)
	}
	if src.NumRows() != rg0.NumRows() || src.NumRowGroups() != 11 {
		t.Fatalf("NumRows = %d, metadata says %d", src.NumRows(), rg0.NumRows())
	}

	var rows, nulls int64
	var lo, hi int64 = 1 << 62, -1 << 62
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		delay := rec.Column(0).(*array.Int64)
		origin := rec.Column(1).(*array.LargeString)
		for i := 0; i < delay.Len(); i++ {
			if delay.IsNull(i) {
				nulls++
				continue
			}
			lo, hi = min(lo, delay.Value(i)), max(hi, delay.Value(i))
			if !origin.IsNull(i) && len(origin.Value(i)) != 3 {
				t.Fatalf("origin %q is not an IATA code", origin.Value(i))
			}
		}
		rows += rec.NumRows()
		rec.Release()
	}
	if rows != rg0.NumRows() {
		t.Fatalf("read %d rows, row group 0 has %d", rows, rg0.NumRows())
	}
	if stats.HasNullCount() && nulls != stats.NullCount() {
		t.Errorf("delay nulls = %d, statistics say %d", nulls, stats.NullCount())
	}
	if s, ok := stats.(*metadata.Int64Statistics); ok && s.HasMinMax() && (lo != s.Min() || hi != s.Max()) {
		t.Errorf("delay min/max = %d/%d, statistics say %d/%d", lo, hi, s.Min(), s.Max())
	}
}

// TestFlightsAllRows reads two columns of the whole file in parallel and
// checks the count against the footer.
func TestFlightsAllRows(t *testing.T) {
	path := sharedData(t, flightsFile)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := parquet.NewSource(path, parquet.WithColumns("distance", "delay"),
		parquet.WithParallel(true), parquet.WithBatchRows(256<<10), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var rows, batches int64
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows += rec.NumRows()
		batches++
		rec.Release()
	}
	if rows != 3_000_000 || rows != src.NumRows() {
		t.Fatalf("read %d rows, NumRows %d, want 3,000,000", rows, src.NumRows())
	}
	if want := (rows + 256<<10 - 1) / (256 << 10); batches != want {
		t.Fatalf("%d batches, want %d", batches, want)
	}
}

// TestFlightsRewrite copies one row group of the real file through a
// Sink (lz4) and checks that the copy holds the same values.
func TestFlightsRewrite(t *testing.T) {
	path := sharedData(t, flightsFile)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()

	open := func(p string, opts ...parquet.SourceOption) *parquet.Source {
		t.Helper()
		src, err := parquet.NewSource(p, append(opts, parquet.WithAllocator(mem))...)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	src := open(path, parquet.WithRowGroups(7))
	out := filepath.Join(t.TempDir(), "rg7.parquet")
	sink, err := parquet.NewSink(out, src.Schema(), parquet.WithCompression(parquet.CodecLZ4),
		parquet.WithRowGroupRows(100_000), parquet.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transports.Copy(ctx, sink, src, nil); err != nil {
		t.Fatal(err)
	}
	src.Close()
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}

	a, b := open(path, parquet.WithRowGroups(7)), open(out)
	defer a.Close()
	defer b.Close()
	if !a.Schema().Equal(b.Schema()) {
		t.Fatalf("schema of the copy:\n%s\nwant:\n%s", b.Schema(), a.Schema())
	}
	if b.NumRowGroups() != 3 {
		t.Errorf("copy has %d row groups, want 3 (272727 rows in groups of 100000)", b.NumRowGroups())
	}
	ta, tb := readTable(t, a, mem), readTable(t, b, mem)
	defer ta.Release()
	defer tb.Release()
	if ta.NumRows() != 272_727 || !array.TableEqual(ta, tb) {
		t.Fatalf("copy differs: %d vs %d rows", ta.NumRows(), tb.NumRows())
	}
}

func readTable(t *testing.T, src transports.Source, mem memory.Allocator) arrow.Table {
	t.Helper()
	var recs []arrow.RecordBatch
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	tbl := array.NewTableFromRecords(src.Schema(), recs)
	for _, r := range recs {
		r.Release()
	}
	return tbl
}

// BenchmarkParquetRead reads the whole flights-3m file per iteration and
// reports rows/s.
func BenchmarkParquetRead(b *testing.B) {
	path := sharedData(b, flightsFile)
	for _, bc := range []struct {
		name string
		opts []parquet.SourceOption
	}{
		{"all-columns", nil},
		{"all-columns-parallel", []parquet.SourceOption{parquet.WithParallel(true)}},
		{"2-columns", []parquet.SourceOption{parquet.WithColumns("delay", "origin")}},
		{"2-columns-parallel", []parquet.SourceOption{parquet.WithColumns("delay", "origin"), parquet.WithParallel(true)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var rows int64
			for b.Loop() {
				src, err := parquet.NewSource(path, bc.opts...)
				if err != nil {
					b.Fatal(err)
				}
				for {
					rec, err := src.Read(context.Background())
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					rows += rec.NumRows()
					rec.Release()
				}
				src.Close()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkParquetWrite writes 1M rows of the flights data per iteration
// with each codec (the default row groups) and reports rows/s.
func BenchmarkParquetWrite(b *testing.B) {
	path := sharedData(b, flightsFile)
	src, err := parquet.NewSource(path, parquet.WithRowGroups(0, 1, 2, 3))
	if err != nil {
		b.Fatal(err)
	}
	var recs []arrow.RecordBatch
	var total int64
	for total < 1_000_000 {
		rec, err := src.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec)
		total += rec.NumRows()
	}
	sc := src.Schema()
	src.Close()
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, codec := range []parquet.Codec{parquet.CodecZstd, parquet.CodecSnappy, parquet.CodecNone} {
		b.Run(string(codec), func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "w.parquet")
			var rows int64
			for b.Loop() {
				sink, err := parquet.NewSink(out, sc, parquet.WithCompression(codec))
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range recs {
					if err := sink.Write(context.Background(), r); err != nil {
						b.Fatal(err)
					}
				}
				if err := sink.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
				rows += total
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
