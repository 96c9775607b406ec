package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/examples/flights/flightsys"
	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/natsjs"
	"github.com/pcs-dev/pcs/transports/parquet"
)

const benchPartitionRows = 16384 // about 750 KB: inline, like the demo

// loadFlights reads the demo input into memory as partition-sized batches.
func loadFlights(b *testing.B) (recs []arrow.RecordBatch, airports string, rows int64) {
	d, err := findData("../..")
	if err != nil {
		b.Fatal(err)
	}
	src, err := parquet.NewSource(d.Flights, parquet.WithBatchRows(benchPartitionRows))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			return recs, d.Airports, rows
		}
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec)
		rows += rec.NumRows()
	}
}

// BenchmarkEndToEnd: the demo pipeline on flights-3m through an embedded
// JetStream ("pcs": publish partitions, pcs-node's runner filters, looks
// up and derives, publishes results, a consumer decodes them) next to the
// broker-only ceiling of the same job measured in the same run
// ("ceiling", issue 15 item 1): the same input partitions published,
// consumed and decoded by as many workers as the pipeline's max_in_flight
// (the partitions pcs-node works on at once; PCS_BENCH_INFLIGHT
// overrides both sides), each of which publishes for each the
// pipeline's output partition (computed before the clock: the same
// sizes, no compute) fenced as pcs-node publishes its outputs
// (natsjs.WithFence, one atomic batch per output) and acks the input
// after the output's ack; a consumer decodes the outputs. "ceiling-
// unfenced" is the same with plain publishes of the outputs. Every
// variant publishes and consumes concurrently; the clock runs from the
// first publish to the last output consumed, and the rows consumed are
// checked. Reports rows/s, input MB/s and "wire-MB", the Arrow bodies
// moved per run (input and output partitions).
func BenchmarkEndToEnd(b *testing.B) {
	recs, airports, rows := loadFlights(b)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	// pcs: the demo's pipeline as node.toml defines it (built-in systems);
	// go-systems: the same work as hand-written Go systems (flightsys).
	b.Setenv("PCS_AIRPORTS", airports)
	fromTOML, err := node.LoadConfig("node.toml")
	if err != nil {
		b.Fatal(err)
	}
	// The pipeline's outputs, for the ceiling's second hop and the checks.
	ctx := context.Background()
	pl, err := plan.Build(ctx, fromTOML.Pipelines[0], plan.DefaultRegistry(), plan.WithoutShards())
	if err != nil {
		b.Fatal(err)
	}
	outs := make([]arrow.RecordBatch, len(recs))
	var bytesIn, bytesOut, rowsOut int64
	nOut := 0
	for i, r := range recs {
		body, err := natsjs.Encode([]arrow.RecordBatch{r}, natsjs.EncodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		bytesIn += int64(len(body))
		r.Retain() // Step releases its input
		out, err := pl.Step(ctx, plan.Input{ID: fmt.Sprint(i), Source: "input", Batches: []arrow.RecordBatch{r}})
		if err != nil {
			b.Fatal(err)
		}
		if res := out.Results; res != nil && res.NumRows() > 0 {
			res.Retain()
			outs[i] = res
			body, err := natsjs.Encode([]arrow.RecordBatch{res}, natsjs.EncodeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			bytesOut += int64(len(body))
			rowsOut += res.NumRows()
			nOut++
		}
		out.Release()
	}
	defer func() {
		for _, r := range outs {
			if r != nil {
				r.Release()
			}
		}
	}()
	report := func(b *testing.B) {
		sec := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(rows)/sec, "rows/s")
		b.ReportMetric(float64(bytesIn)/sec/1e6, "MB/s")
		b.ReportMetric(float64(bytesIn+bytesOut)/1e6, "wire-MB")
	}
	check := func(b *testing.B, got int64) {
		if got != rowsOut {
			b.Fatalf("consumed %d output rows, want %d", got, rowsOut)
		}
	}
	builtins := plan.DefaultRegistry()
	goSystems := plan.NewRegistry()
	flightsys.Register(goSystems)
	for _, v := range []struct {
		name string
		pc   plan.Pipeline
		reg  *plan.Registry
	}{
		{"pcs", fromTOML.Pipelines[0], builtins},
		{"go-systems", plan.Pipeline{
			Name: "flights", Components: []string{"flight", "route"},
			Resources: []plan.UseConfig{{Use: "flights.airports", Options: map[string]any{"path": airports}}},
			Systems:   []plan.UseConfig{{Use: "flights.keep"}, {Use: "flights.airports"}, {Use: "flights.derive"}},
		}, goSystems},
	} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				pc := v.pc
				if n := inFlight(); n > 0 {
					pc.MaxInFlight = n
				}
				pc.Input = plan.InputConfig{Subjects: []string{"flights.raw"}, Component: "flight"}
				pc.Output = plan.OutputConfig{Subject: "flights.enriched"} // uncompressed, as the ceiling
				cfg := node.Config{
					Node:      node.NodeConfig{ID: "bench", HTTP: "off"},
					Broker:    node.BrokerConfig{StoreDir: b.TempDir(), MaxPayload: 4 << 20},
					Pipelines: []plan.Pipeline{pc},
				}
				cfg.SetDefaults()
				n, err := node.Start(context.Background(), cfg, v.reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- n.Run(ctx) }()
				nc, _ := n.Broker().Connect()
				js, _ := jetstream.New(nc)
				b.StartTimer()
				// Filtered on the output subject: the stream also holds the fences.
				consumed, got := consumeAll(b, js, cfg.Pipelines[0].Output.Stream, "flights.enriched", nOut)
				publishAll(b, js, "flights.raw", recs)
				<-consumed
				b.StopTimer()
				check(b, *got)
				cancel()
				<-done
				nc.Close()
				_ = n.Close(context.Background())
				b.StartTimer()
			}
			report(b)
		})
	}
	for _, fenced := range []bool{true, false} {
		name := "ceiling"
		if !fenced {
			name = "ceiling-unfenced"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				br := brokertest.Start(b, brokertest.WithMaxPayload(4<<20))
				nc := brokertest.Conn(b, br)
				js, err := jetstream.New(nc)
				if err != nil {
					b.Fatal(err)
				}
				fence := natsjs.FencePrefix("ceil", "out")
				if _, err := broker.Provision(context.Background(), js, broker.Spec{
					Streams: []broker.StreamSpec{
						{Name: "CEIL", Subjects: []string{"ceil.raw"}, Retention: broker.RetentionWorkQueue, Discard: broker.DiscardNew},
						{Name: "CEIL_OUT", Subjects: []string{"ceil.out", natsjs.FenceSubjects(fence)}, Retention: broker.RetentionLimits, Discard: broker.DiscardNew, AllowAtomicPublish: true},
					},
					ObjectStores: []broker.ObjectStoreSpec{{Bucket: "pcs-objects"}},
				}); err != nil {
					b.Fatal(err)
				}
				opts := []natsjs.Option{natsjs.WithSourceID("ceil")}
				if fenced {
					opts = append(opts, natsjs.WithFence(fence))
				}
				pub, err := natsjs.NewPublisher(js, "ceil.out", opts...)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				workers := fromTOML.Pipelines[0].MaxInFlight
				if n := inFlight(); n > 0 {
					workers = n
				}
				relayed := relay(ctx, b, js, "CEIL", pub, outs, workers)
				b.StartTimer()
				consumed, got := consumeAll(b, js, "CEIL_OUT", "ceil.out", nOut)
				publishAll(b, js, "ceil.raw", recs)
				<-consumed
				b.StopTimer()
				check(b, *got)
				cancel()
				<-relayed
				_ = pub.Close(context.Background())
				nc.Close()
				_ = br.Shutdown(context.Background())
				b.StartTimer()
			}
			report(b)
		})
	}
}

// relay is the ceiling's middle, pcs-node's delivery loop without the
// pipeline (node/delivery.go): until ctx is done it keeps up to 2 x
// workers partitions fetched and not done (one pull for all free slots),
// and workers goroutines take them in fetch order and for each decode
// it, publish outs[i] for the partition with stream sequence i+1
// (nothing for an empty output, as pcs-node), wait for its acks and ack
// the partition.
func relay(ctx context.Context, b *testing.B, js jetstream.JetStream, stream string, pub *natsjs.Publisher, outs []arrow.RecordBatch, workers int) <-chan struct{} {
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "relay", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		b.Fatal(err)
	}
	one := func(p *natsjs.Partition) error {
		recs, err := p.Decode(ctx, js, nil)
		if err != nil {
			return err
		}
		for _, r := range recs {
			r.Release()
		}
		if out := outs[p.StreamSeq()-1]; out != nil {
			id := p.ID()
			pds, err := pub.PublishParts(ctx, []arrow.RecordBatch{out}, natsjs.Meta{Lineage: []string{id}},
				func(j int) string { return natsjs.PartID(natsjs.OutputID("ceil", id, 0), j) })
			for _, pd := range pds {
				if _, werr := pd.Wait(ctx); werr != nil && err == nil {
					err = werr
				}
			}
			if err != nil {
				return err
			}
		}
		return p.Ack(ctx)
	}
	done := make(chan struct{})
	slots := make(chan struct{}, 2*workers)
	queue := make(chan *natsjs.Partition, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for p := range queue {
				if err := one(p); err != nil && ctx.Err() == nil {
					b.Error(err)
				}
				<-slots
			}
		})
	}
	go func() {
		defer close(done)
		defer wg.Wait()
		defer close(queue)
		for ctx.Err() == nil {
			slots <- struct{}{}
			n := 1
			for n < cap(slots) && len(slots) < cap(slots) {
				slots <- struct{}{}
				n++
			}
			parts, err := natsjs.Fetch(ctx, cons, n, 0)
			for range n - len(parts) {
				<-slots
			}
			if err != nil {
				if ctx.Err() == nil {
					b.Error(err)
				}
				return
			}
			for _, p := range parts {
				queue <- p
			}
		}
	}()
	return done
}

// inFlight is PCS_BENCH_INFLIGHT, 0 when unset: the max_in_flight of
// BenchmarkEndToEnd's node and the relay's workers.
func inFlight() int {
	n, _ := strconv.Atoi(os.Getenv("PCS_BENCH_INFLIGHT"))
	return n
}

func publishAll(b *testing.B, js jetstream.JetStream, subject string, recs []arrow.RecordBatch) {
	pub, err := natsjs.NewPublisher(js, subject, natsjs.WithSourceID("bench"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range recs {
		if err := pub.Write(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// consumeAll fetches, decodes and acks n partitions on subject from
// stream on a durable pull consumer it creates, counting their rows into
// *rows, and closes the returned channel then.
func consumeAll(b *testing.B, js jetstream.JetStream, stream, subject string, n int) (<-chan struct{}, *int64) {
	ctx := context.Background()
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: subject})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	rows := new(int64)
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		for got := 0; got < n; {
			parts, err := natsjs.Fetch(ctx, cons, 16, 0)
			if err != nil {
				b.Error(err)
				return
			}
			for _, p := range parts {
				recs, err := p.Decode(ctx, js, nil)
				if err != nil {
					b.Error(err)
					return
				}
				for _, r := range recs {
					*rows += r.NumRows()
					r.Release()
				}
				_ = p.Ack(ctx)
				got++
			}
		}
	}()
	return done, rows
}

// BenchmarkPublishParquet: read flights-3m.parquet and publish it as
// 16384-row partitions into an embedded JetStream (what `pcs publish`
// does), waiting for every publish ack.
func BenchmarkPublishParquet(b *testing.B) {
	d, err := findData("../..")
	if err != nil {
		b.Fatal(err)
	}
	var rows int64
	for b.Loop() {
		b.StopTimer()
		br := brokertest.Start(b)
		nc := brokertest.Conn(b, br)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := broker.Provision(context.Background(), js, broker.Spec{
			Streams:      []broker.StreamSpec{{Name: "PUB", Subjects: []string{"pub.raw"}, Retention: broker.RetentionWorkQueue, Discard: broker.DiscardNew}},
			ObjectStores: []broker.ObjectStoreSpec{{Bucket: "pcs-objects"}},
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		src, err := parquet.NewSource(d.Flights, parquet.WithBatchRows(benchPartitionRows))
		if err != nil {
			b.Fatal(err)
		}
		pub, err := natsjs.NewPublisher(js, "pub.raw", natsjs.WithSourceID("bench"))
		if err != nil {
			b.Fatal(err)
		}
		st, err := transports.Copy(context.Background(), pub, src, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := pub.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		src.Close()
		rows = st.Rows
		b.StopTimer()
		nc.Close()
		_ = br.Shutdown(context.Background())
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
}

// BenchmarkConsumeParquet: what `pcs consume --out x.parquet` does with
// the flights sink, in process: the demo pipeline's outputs (computed
// once, before the clock) sit in an embedded JetStream stream as
// uncompressed 16384-row partitions; each iteration creates a durable
// consumer, reads every partition through natsjs.Source (fetch, decode),
// writes a Parquet file with the default Sink and acks. "decode-only"
// is the same without the file: the ceiling of the Parquet writing.
// Each variant reports rows/s; the pcs variant checks the file's rows.
func BenchmarkConsumeParquet(b *testing.B) {
	recs, airports, _ := loadFlights(b)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	b.Setenv("PCS_AIRPORTS", airports)
	cfg, err := node.LoadConfig("node.toml")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	pl, err := plan.Build(ctx, cfg.Pipelines[0], plan.DefaultRegistry(), plan.WithoutShards())
	if err != nil {
		b.Fatal(err)
	}
	br := brokertest.Start(b, brokertest.WithMaxPayload(4<<20))
	nc := brokertest.Conn(b, br)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := broker.Provision(ctx, js, broker.Spec{
		Streams:      []broker.StreamSpec{{Name: "SINK", Subjects: []string{"flights.enriched"}}},
		ObjectStores: []broker.ObjectStoreSpec{{Bucket: "pcs-objects"}},
	}); err != nil {
		b.Fatal(err)
	}
	pub, err := natsjs.NewPublisher(js, "flights.enriched", natsjs.WithSourceID("bench"))
	if err != nil {
		b.Fatal(err)
	}
	var rows int64
	for i, r := range recs {
		out, err := pl.Step(ctx, plan.Input{ID: fmt.Sprint(i), Source: "input", Batches: []arrow.RecordBatch{r}})
		if err != nil {
			b.Fatal(err)
		}
		rows += out.Results.NumRows()
		if err := pub.Write(ctx, out.Results); err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	if err := pub.Close(ctx); err != nil {
		b.Fatal(err)
	}
	schema := pl.OutputSchema()
	consumer := 0
	consume := func(b *testing.B, sink transports.Sink) int64 {
		consumer++
		cons, err := js.CreateOrUpdateConsumer(ctx, "SINK", jetstream.ConsumerConfig{
			Durable: fmt.Sprintf("bench-%d", consumer), AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1})
		if err != nil {
			b.Fatal(err)
		}
		src, err := natsjs.NewSource(cons, js, natsjs.WithFetchLimits(64, natsjs.DefaultFetchBytes))
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		var got int64
		for {
			_, batch, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range batch {
				got += r.NumRows()
				if sink != nil {
					if err := sink.Write(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
				r.Release()
			}
		}
		if sink != nil {
			if err := sink.Close(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if err := src.Ack(ctx); err != nil {
			b.Fatal(err)
		}
		return got
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(rows)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
	}
	b.Run("pcs", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "enriched.parquet")
		for b.Loop() {
			sink, err := parquet.NewSink(out, schema)
			if err != nil {
				b.Fatal(err)
			}
			if got := consume(b, sink); got != rows {
				b.Fatalf("consumed %d rows, want %d", got, rows)
			}
		}
		report(b)
		b.StopTimer()
		src, err := parquet.NewSource(out)
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		if n := src.NumRows(); n != rows {
			b.Fatalf("the Parquet file has %d rows, want %d", n, rows)
		}
	})
	b.Run("decode-only", func(b *testing.B) {
		for b.Loop() {
			if got := consume(b, nil); got != rows {
				b.Fatalf("consumed %d rows, want %d", got, rows)
			}
		}
		report(b)
	})
}
