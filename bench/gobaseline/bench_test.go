package gobaseline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	json "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// partitionRows is examples/flights' benchPartitionRows: the Go service
// gets one message per batch of as many rows as a PCS partition.
const partitionRows = 16384

// sums are what both sides' outputs are checked on.
type sums struct {
	rows, delayed, delay, routeBytes int64
}

// data returns flights-3m.parquet and airports.csv (PCS_DATA_DIR, then
// ../shared/data beside the repository), else the 50k-row slice.
func data(tb testing.TB) (flights, airports string) {
	for _, d := range []string{os.Getenv("PCS_DATA_DIR"), "../../../shared/data", "../../.cache/pcs-data"} {
		f, a := filepath.Join(d, "flights-3m.parquet"), filepath.Join(d, "airports.csv")
		if _, err := os.Stat(f); d != "" && err == nil {
			if _, err := os.Stat(a); err == nil {
				return f, a
			}
		}
	}
	td := "../../examples/flights/testdata"
	return filepath.Join(td, "flights-50k.parquet"), filepath.Join(td, "airports.csv")
}

func readRecords(tb testing.TB, path string) []arrow.RecordBatch {
	src, err := parquet.NewSource(path, parquet.WithBatchRows(partitionRows))
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var recs []arrow.RecordBatch
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			tb.Fatal(err)
		}
		recs = append(recs, rec)
	}
}

func str(a arrow.Array, i int) string {
	switch c := a.(type) {
	case *array.String:
		return c.Value(i)
	case *array.LargeString:
		return c.Value(i)
	}
	panic(fmt.Sprintf("column type %s", a.DataType()))
}

// toFlights is the input as the Go service's producer holds it.
func toFlights(tb testing.TB, rec arrow.RecordBatch) []Flight {
	col := func(name string) arrow.Array {
		is := rec.Schema().FieldIndices(name)
		if len(is) != 1 {
			tb.Fatalf("no column %s", name)
		}
		return rec.Column(is[0])
	}
	date, delay, dist := col("date").(*array.Timestamp), col("delay").(*array.Int64), col("distance").(*array.Int64)
	origin, dest := col("origin"), col("destination")
	out := make([]Flight, rec.NumRows())
	for i := range out {
		f := Flight{Date: time.UnixMicro(int64(date.Value(i))).UTC(), Origin: str(origin, i), Destination: str(dest, i)}
		if dist.IsValid(i) {
			f.Distance = dist.Value(i)
		}
		if delay.IsValid(i) {
			d := delay.Value(i)
			f.Delay = &d
		}
		out[i] = f
	}
	return out
}

// pcsReference runs examples/flights/node.toml's pipeline (what
// BenchmarkEndToEnd/pcs runs in pcs-node) on the same partitions in
// process: its output sums, and the Arrow bytes PCS moves (input and
// output partitions, uncompressed as in BenchmarkEndToEnd).
func pcsReference(tb testing.TB, recs []arrow.RecordBatch, airports string) (s sums, wire int64) {
	abs, _ := filepath.Abs(airports)
	tb.Setenv("PCS_AIRPORTS", abs)
	cfg, err := node.LoadConfig("../../examples/flights/node.toml")
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	pl, err := plan.Build(ctx, cfg.Pipelines[0], plan.DefaultRegistry(), plan.WithoutShards())
	if err != nil {
		tb.Fatal(err)
	}
	for i, r := range recs {
		body, err := natsjs.Encode([]arrow.RecordBatch{r}, natsjs.EncodeOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		wire += int64(len(body))
		r.Retain() // Step releases its input
		out, err := pl.Step(ctx, plan.Input{ID: fmt.Sprint(i), Source: "input", Batches: []arrow.RecordBatch{r}})
		if err != nil {
			tb.Fatal(err)
		}
		res := out.Results
		if res != nil && res.NumRows() > 0 {
			body, err := natsjs.Encode([]arrow.RecordBatch{res}, natsjs.EncodeOptions{})
			if err != nil {
				tb.Fatal(err)
			}
			wire += int64(len(body))
			idx := func(n string) arrow.Array { return res.Column(res.Schema().FieldIndices(n)[0]) }
			delayed, delay, route := idx("delayed").(*array.Boolean), idx("delay").(*array.Int64), idx("route")
			for j := 0; j < int(res.NumRows()); j++ {
				s.rows++
				if delayed.Value(j) {
					s.delayed++
				}
				s.delay += delay.Value(j)
				s.routeBytes += int64(len(str(route, j)))
			}
		}
		out.Release()
	}
	return s, wire
}

// BenchmarkGoService/json: the Go service (service.go) on flights-3m in
// 16384-row JSON messages through an embedded JetStream: a producer
// publishes every batch (marshalled on the clock, async, acks checked),
// the service enriches them, a sink (a worker per core) consumes and
// decodes the outputs; the clock runs from the first publish to the last
// output decoded, as BenchmarkEndToEnd's. The outputs' sums (rows,
// delayed count, sum of delay, route bytes) must equal PCS's pipeline's
// on the same partitions. Reports rows/s and the bytes of message bodies
// on the wire per run, in and out ("wire-MB"), beside PCS's Arrow bytes
// for the same job ("pcs-wire-MB").
func BenchmarkGoService(b *testing.B) {
	flightsPath, airportsPath := data(b)
	recs := readRecords(b, flightsPath)
	var rows int64
	batches := make([][]Flight, len(recs))
	for i, r := range recs {
		batches[i] = toFlights(b, r)
		rows += r.NumRows()
	}
	want, pcsWire := pcsReference(b, recs, airportsPath)
	for _, r := range recs {
		r.Release()
	}
	airports, err := LoadAirports(airportsPath)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json", func(b *testing.B) {
		var wire int64
		var got sums
		for b.Loop() {
			b.StopTimer()
			got, wire = sums{}, 0
			ctx, cancel := context.WithCancel(context.Background())
			br := brokertest.Start(b, brokertest.WithMaxPayload(8<<20))
			nc := brokertest.Conn(b, br)
			js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
			if err != nil {
				b.Fatal(err)
			}
			for _, sc := range []jetstream.StreamConfig{
				{Name: "FLIGHTS_RAW", Subjects: []string{"gb.flights.raw"}, Retention: jetstream.WorkQueuePolicy},
				{Name: "FLIGHTS_ENRICHED", Subjects: []string{"gb.flights.enriched"}},
			} {
				if _, err := js.CreateStream(ctx, sc); err != nil {
					b.Fatal(err)
				}
			}
			in, err := js.CreateOrUpdateConsumer(ctx, "FLIGHTS_RAW", jetstream.ConsumerConfig{Durable: "service", AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				b.Fatal(err)
			}
			out, err := js.CreateOrUpdateConsumer(ctx, "FLIGHTS_ENRICHED", jetstream.ConsumerConfig{Durable: "sink", AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				b.Fatal(err)
			}
			svc := &Service{JS: js, In: in, OutSubject: "gb.flights.enriched", Airports: airports}
			svcErr := make(chan error, 1)
			go func() { svcErr <- svc.Run(ctx) }()
			b.StartTimer()
			sinkDone, sinkSums, sinkBytes := sink(ctx, b, out, len(batches))
			wire += publish(ctx, b, js, "gb.flights.raw", batches)
			<-sinkDone
			b.StopTimer()
			got = *sinkSums
			wire += sinkBytes.Load()
			cancel()
			if err := <-svcErr; err != nil {
				b.Fatal(err)
			}
			nc.Close()
			_ = br.Shutdown(context.Background())
			b.StartTimer()
		}
		sec := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(rows)/sec, "rows/s")
		b.ReportMetric(float64(wire)/1e6, "wire-MB")
		b.ReportMetric(float64(pcsWire)/1e6, "pcs-wire-MB")
		b.ReportMetric(float64(got.rows), "out-rows")
		if got != want {
			b.Fatalf("the Go service's outputs (rows, delayed, sum delay, route bytes) %+v, PCS's %+v", got, want)
		}
	})
}

// publish marshals and publishes every batch asynchronously, then checks
// every ack; it returns the bytes published.
func publish(ctx context.Context, b *testing.B, js jetstream.JetStream, subject string, batches [][]Flight) int64 {
	var n int64
	futures := make([]jetstream.PubAckFuture, 0, len(batches))
	for i, batch := range batches {
		body, err := json.Marshal(batch)
		if err != nil {
			b.Fatal(err)
		}
		n += int64(len(body))
		paf, err := js.PublishAsync(subject, body, jetstream.WithMsgID(fmt.Sprintf("in-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, paf)
	}
	for _, paf := range futures {
		select {
		case <-paf.Ok():
		case err := <-paf.Err():
			b.Fatal(err)
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		}
	}
	return n
}

// sink consumes n output messages with a worker per core, decoding each
// and summing it, and closes done then.
func sink(ctx context.Context, b *testing.B, cons jetstream.Consumer, n int) (done chan struct{}, s *sums, bytes *atomic.Int64) {
	done, s, bytes = make(chan struct{}), &sums{}, &atomic.Int64{}
	workers := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	var left atomic.Int64
	left.Store(int64(n))
	for range workers {
		go func() {
			for ctx.Err() == nil {
				batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				for m := range batch.Messages() {
					var rows []Enriched
					if err := json.Unmarshal(m.Data(), &rows); err != nil {
						b.Error(err)
						return
					}
					var t sums
					for _, r := range rows {
						t.rows++
						if r.Delayed {
							t.delayed++
						}
						t.delay += *r.Delay
						t.routeBytes += int64(len(r.Route))
					}
					bytes.Add(int64(len(m.Data())))
					mu.Lock()
					s.rows, s.delayed, s.delay, s.routeBytes = s.rows+t.rows, s.delayed+t.delayed, s.delay+t.delay, s.routeBytes+t.routeBytes
					mu.Unlock()
					if err := m.Ack(); err != nil {
						b.Error(err)
					}
					if left.Add(-1) == 0 {
						close(done)
					}
				}
			}
		}()
	}
	return done, s, bytes
}
