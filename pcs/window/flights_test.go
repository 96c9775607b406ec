package window_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pcs-dev/pcs/pcs/window"
)

const flightsPath = "../../../shared/data/flights-3m.parquet"

// flightsRows: the flights tests always use the first 500k rows (about 5
// weeks of Jan-Feb 2001), enough for hourly and 7-day windows, and fast
// under -race.
const flightsRows = 500_000

// readFlights returns the first n rows of date, delay, origin in batches
// of 64k rows. The caller releases them.
func readFlights(t testing.TB, mem memory.Allocator, n int) []arrow.RecordBatch {
	t.Helper()
	path := flightsPath
	if p := os.Getenv("PCS_FLIGHTS"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("flights data set not found (%v): see /work/shared/data/README", err)
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10, Parallel: true}, mem)
	if err != nil {
		t.Fatal(err)
	}
	var cols []int
	for _, name := range []string{"date", "delay", "origin"} {
		idx := fr.Manifest.Fields
		found := false
		for i, f := range idx {
			if f.Field.Name == name {
				cols = append(cols, i)
				found = true
			}
		}
		if !found {
			t.Fatalf("flights: no column %q", name)
		}
	}
	rr, err := fr.GetRecordReader(context.Background(), cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []arrow.RecordBatch
	got := 0
	for got < n {
		rec, err := rr.Read()
		if errors.Is(err, io.EOF) || (err == nil && rec == nil) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		take := min(int(rec.NumRows()), n-got)
		out = append(out, rec.NewSlice(0, int64(take)))
		got += take
	}
	return out
}

type flightAgg struct {
	sum, n, cnt int64
	max         int64
	hasMax      bool
}

func TestFlightsWindows(t *testing.T) {
	mem := checkedMem(t)
	recs := readFlights(t, mem, flightsRows)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	schema := recs[0].Schema()
	t.Logf("flights schema: %s", schema)
	aggs := parseAggs(t, []string{"avg(delay) as avg_delay", "max(delay) as max_delay", "count(*) as flights"})
	for _, a := range []window.Assigner{window.Tumbling(time.Hour, 0), window.Sliding(7*24*time.Hour, 24*time.Hour, 0)} {
		t.Run(a.Kind.String(), func(t *testing.T) {
			// the independent computation, row by row
			want := map[string]*flightAgg{}
			size, slide := a.Size.Milliseconds(), a.Slide.Milliseconds()
			for _, rec := range recs {
				dates := rec.Column(0).(*array.Timestamp)
				unit := dates.DataType().(*arrow.TimestampType).Unit
				delay := rec.Column(1).(*array.Int64)
				origin := rec.Column(2)
				for i := 0; i < int(rec.NumRows()); i++ {
					tm := dates.Value(i).ToTime(unit).UnixMilli()
					for ws := floorDivT(tm, slide) * slide; ws > tm-size; ws -= slide {
						k := fmt.Sprintf("%s|%d", origin.ValueStr(i), ws)
						g := want[k]
						if g == nil {
							g = &flightAgg{}
							want[k] = g
						}
						g.cnt++
						if delay.IsValid(i) {
							d := delay.Value(i)
							g.sum += d
							g.n++
							if !g.hasMax || d > g.max {
								g.max, g.hasMax = d, true
							}
						}
					}
				}
			}
			op := mustNew(t, window.Spec{Time: window.TimeSpec{Column: "date"}, Assigner: a, Keys: []string{"origin"}, Aggs: aggs}, schema, mem)
			got := map[string]bool{}
			check := func(out window.Output, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				defer out.Release()
				if out.Late != nil {
					t.Fatalf("%d late rows", out.Late.NumRows())
				}
				res := out.Results
				if res == nil {
					return
				}
				ori := res.Column(0)
				ws := res.Column(1).(*array.Timestamp)
				avg := res.Column(3).(*array.Float64)
				mx := res.Column(4).(*array.Int64)
				cnt := res.Column(5).(*array.Int64)
				for i := 0; i < int(res.NumRows()); i++ {
					k := fmt.Sprintf("%s|%d", ori.ValueStr(i), int64(ws.Value(i)))
					w := want[k]
					if w == nil || got[k] {
						t.Fatalf("unexpected or repeated window %s", k)
					}
					got[k] = true
					if cnt.Value(i) != w.cnt || (w.n > 0) != avg.IsValid(i) || (w.n > 0 && math.Abs(avg.Value(i)-float64(w.sum)/float64(w.n)) > 1e-9) ||
						(w.hasMax && mx.Value(i) != w.max) {
						t.Fatalf("%s: got count %d avg %v max %v, want %+v", k, cnt.Value(i), avg.Value(i), mx.Value(i), *w)
					}
				}
			}
			for _, rec := range recs {
				check(op.Process(ctx, "flights", rec))
			}
			check(op.Flush(ctx))
			if len(got) != len(want) {
				t.Fatalf("%d windows, want %d", len(got), len(want))
			}
			t.Logf("%s: %d (origin, window) results over %d rows", a, len(got), flightsRows)
		})
	}
}

// BenchmarkFlightsHourly: the operator's share of .ci/bench's
// HourlyVsDuckDB (average delay per origin and hour over the 3M flights,
// ~424k groups), without Parquet reading and writing.
func BenchmarkFlightsHourly(b *testing.B) {
	recs := readFlights(b, memory.NewGoAllocator(), 3_000_000)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	spec := window.Spec{Time: window.TimeSpec{Column: "date"}, Assigner: window.Tumbling(time.Hour, 0),
		Keys: []string{"origin"}, Aggs: parseAggs(b, []string{"avg(delay) as avg_delay"})}
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			runOperatorSchema(b, spec, recs[0].Schema(), recs)
		}
	})
}
