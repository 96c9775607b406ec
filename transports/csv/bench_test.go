package csv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"

	"github.com/pcs-dev/pcs/transports/csv"
)

// benchCSV writes a ~50 MB CSV file (460,000 rows of an id, a name, two
// coordinates, an RFC 3339 event time, a flag, a count with empty cells
// and a city that is sometimes quoted) and returns its path and size.
func benchCSV(b *testing.B) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,name,latitude,longitude,event_time,active,count,city")
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cities := []string{"Seattle", "\"Washington, D.C.\"", "Bay Springs", "\"Pullman/Moscow,ID\"", "Livingston"}
	for i := 0; i < 460_000; i++ {
		count := ""
		if i%10 != 0 {
			count = fmt.Sprint(i % 977)
		}
		fmt.Fprintf(w, "%d,airport-%d,%.8f,%.8f,%s,%t,%s,%s\n",
			i, i%5000, 30+float64(i%2000)*0.01234567, -120+float64(i%3000)*0.0123456,
			base.Add(time.Duration(i)*1234*time.Millisecond).Format("2006-01-02T15:04:05.000Z"),
			i%3 == 0, count, cities[i%len(cities)])
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return path, st.Size()
}

// BenchmarkCSVRead reads the whole ~50 MB file per iteration, in batches
// of 64 Ki rows, and reports MB/s and rows/s:
//
//   - pcs: csv.Source with inference (10,000 rows);
//   - explicit-schema: csv.Source with the same schema given;
//   - arrow-csv: arrow-go's csv.NewReader with the same schema and chunk
//     size, used directly.
func BenchmarkCSVRead(b *testing.B) {
	path, size := benchCSV(b)
	src, err := csv.NewSource(path)
	if err != nil {
		b.Fatal(err)
	}
	schema := src.Schema()
	src.Close()
	b.Logf("%d MB, schema:\n%s", size>>20, schema)

	readSource := func(b *testing.B, opts ...csv.SourceOption) int64 {
		src, err := csv.NewSource(path, opts...)
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		var rows int64
		for {
			rec, err := src.Read(context.Background())
			if errors.Is(err, io.EOF) {
				return rows
			}
			if err != nil {
				b.Fatal(err)
			}
			rows += rec.NumRows()
			rec.Release()
		}
	}
	for _, bc := range []struct {
		name string
		read func(b *testing.B) int64
	}{
		{"pcs", func(b *testing.B) int64 { return readSource(b) }},
		{"explicit-schema", func(b *testing.B) int64 { return readSource(b, csv.WithSchema(schema)) }},
		{"arrow-csv", func(b *testing.B) int64 {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			r := arrowcsv.NewReader(bufio.NewReaderSize(f, 1<<20), schema,
				arrowcsv.WithHeader(true), arrowcsv.WithChunk(csv.DefaultBatchRows), arrowcsv.WithNullReader(true, ""))
			defer r.Release()
			var rows int64
			for r.Next() {
				rows += r.RecordBatch().NumRows()
			}
			if err := r.Err(); err != nil {
				b.Fatal(err)
			}
			return rows
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			var rows int64
			for b.Loop() {
				rows += bc.read(b)
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
