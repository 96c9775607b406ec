package parquet_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports/parquet"
)

// BenchmarkSinkFlights writes flights-3m (held in memory as 16384-row
// batches, the demo's partition size) to a Parquet file with the Sink's
// defaults: the cost of `pcs consume --out x.parquet` and of `pcs run`'s
// Parquet output without the broker or the pipeline. PCS_BENCH_SINK_IN
// names another Parquet file to write instead (e.g. the flights
// pipeline's enriched output).
func BenchmarkSinkFlights(b *testing.B) {
	in := os.Getenv("PCS_BENCH_SINK_IN")
	if in == "" {
		in = sharedData(b, flightsFile)
	}
	src, err := parquet.NewSource(in, parquet.WithBatchRows(16384))
	if err != nil {
		b.Fatal(err)
	}
	var recs []arrow.RecordBatch
	var rows int64
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec)
		rows += rec.NumRows()
	}
	schema := src.Schema()
	src.Close()
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	out := filepath.Join(b.TempDir(), "out.parquet")
	ctx := context.Background()
	var size int64
	var opts []parquet.SinkOption
	if l := os.Getenv("ZL"); l != "" {
		n, _ := strconv.Atoi(l)
		opts = append(opts, parquet.WithCompressionLevel(n))
	}
	if v := os.Getenv("RG"); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		opts = append(opts, parquet.WithRowGroupRows(n))
	}
	if c := os.Getenv("ZC"); c != "" {
		opts = append(opts, parquet.WithCompression(parquet.Codec(c)))
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		sink, err := parquet.NewSink(out, schema, opts...)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := sink.Write(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		if err := sink.Close(ctx); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(out)
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := float64(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / 1e9
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(rows)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
	b.ReportMetric(float64(size)/1e6, "MB")
}
