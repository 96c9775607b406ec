package arrowfile_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
)

const flightsFile = "flights-200k.arrow"

// sharedData returns the path of a file in /work/shared/data, located
// relative to the repository root (../shared/data next to the checkout),
// or skips the test when the data set is absent.
func sharedData(tb testing.TB, name string) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	// The package directory is <root>/transports/arrowfile.
	p := filepath.Join(wd, "..", "..", "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data set %s not found (%v): it lives in ../shared/data next to the repository root", name, err)
	}
	return p
}

func TestFlights200k(t *testing.T) {
	path := sharedData(t, flightsFile)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()

	src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	want := arrow.NewSchema([]arrow.Field{
		{Name: "delay", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "distance", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "time", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	}, nil)
	if src.Format() != arrowfile.FormatFile || !src.Schema().Equal(want) {
		t.Fatalf("format %v, schema:\n%s", src.Format(), src.Schema())
	}
	orig := readAll(t, src)
	src.Close()
	defer func() {
		for _, r := range orig {
			r.Release()
		}
	}()
	var rows int64
	for _, r := range orig {
		rows += r.NumRows()
		hours := r.Column(2).(*array.Float32)
		for i := 0; i < hours.Len(); i++ {
			if hours.IsValid(i) && (hours.Value(i) < 0 || hours.Value(i) > 24) {
				t.Fatalf("time %v is not an hour of the day", hours.Value(i))
			}
		}
	}
	if rows != 200_000 {
		t.Fatalf("%d rows, want 200,000", rows)
	}
	if mem.CurrentAlloc() != 0 {
		t.Errorf("decoding the file allocated %d bytes: column data was copied", mem.CurrentAlloc())
	}

	// Rewrite as a zstd stream in 3 batches and read it back.
	out := filepath.Join(t.TempDir(), "flights.arrows")
	sink, err := arrowfile.NewSink(out, src.Schema(), arrowfile.WithFormat(arrowfile.FormatStream),
		arrowfile.WithCompression(arrowfile.CodecZstd), arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	tbl := array.NewTableFromRecords(src.Schema(), orig)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 70_000)
	for tr.Next() {
		if err := sink.Write(ctx, tr.RecordBatch()); err != nil {
			t.Fatal(err)
		}
	}
	tr.Release()
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(out); st != nil {
		in, _ := os.Stat(path)
		t.Logf("%s: %d bytes; zstd stream: %d bytes", flightsFile, in.Size(), st.Size())
	}
	back, err := arrowfile.NewSource(out, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if back.Format() != arrowfile.FormatStream {
		t.Fatalf("detected %v", back.Format())
	}
	recs := readAll(t, back)
	if len(recs) != 3 {
		t.Errorf("%d batches, want 3", len(recs))
	}
	tbl2 := array.NewTableFromRecords(back.Schema(), recs)
	for _, r := range recs {
		r.Release()
	}
	defer tbl2.Release()
	if !array.TableEqual(tbl, tbl2) {
		t.Fatal("stream copy differs from the file")
	}
}

// BenchmarkArrowFileRead decodes flights-200k.arrow (file format,
// zero-copy) per iteration, and the same data as an uncompressed and a
// zstd stream; reports rows/s.
func BenchmarkArrowFileRead(b *testing.B) {
	path := sharedData(b, flightsFile)
	dir := b.TempDir()
	paths := map[string]string{"file": path}
	for _, codec := range []arrowfile.Codec{arrowfile.CodecNone, arrowfile.CodecZstd} {
		p := filepath.Join(dir, "stream-"+string(codec))
		src, err := arrowfile.NewSource(path)
		if err != nil {
			b.Fatal(err)
		}
		sink, err := arrowfile.NewSink(p, src.Schema(), arrowfile.WithFormat(arrowfile.FormatStream), arrowfile.WithCompression(codec))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := transports.Copy(context.Background(), sink, src, nil); err != nil {
			b.Fatal(err)
		}
		src.Close()
		if err := sink.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		paths["stream-"+string(codec)] = p
	}
	for _, name := range []string{"file", "stream-none", "stream-zstd"} {
		b.Run(name, func(b *testing.B) {
			var rows int64
			for b.Loop() {
				src, err := arrowfile.NewSource(paths[name])
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
