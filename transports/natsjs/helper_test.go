package natsjs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/broker/brokertest"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// startJetStream starts an in-process nats-server with JetStream (file
// store in a temp dir) and returns a JetStream context on a connection
// that bypasses the network. Both are closed by t.Cleanup.
func startJetStream(tb testing.TB, tweaks ...func(*server.Options)) jetstream.JetStream {
	tb.Helper()
	b := brokertest.Start(tb, brokertest.WithServerOptions(func(o *server.Options) {
		for _, f := range tweaks {
			f(o)
		}
	}))
	return brokertest.JetStream(tb, b)
}

// createStream creates a stream over subjects with a 2-minute duplicate
// window.
func createStream(tb testing.TB, js jetstream.JetStream, name string, subjects ...string) jetstream.Stream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       name,
		Subjects:   subjects,
		Storage:    jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func createConsumer(tb testing.TB, st jetstream.Stream, durable string) jetstream.Consumer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   durable,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   30 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cons
}

func testCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// flightsSchema is the benchmark and test schema: flights-like rows.
var flightsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "distance", Type: arrow.PrimitiveTypes.Int64},
	{Name: "origin", Type: arrow.BinaryTypes.String},
	{Name: "destination", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

var airports = []string{"SFO", "LAX", "JFK", "ORD", "ATL", "DFW", "DEN", "SEA", "BOS", "MIA", "PHX", "IAH"}

// flights builds n rows starting at row offset start; every 17th delay
// and every 29th destination is null. Event time of row i is base + i s.
func flights(mem memory.Allocator, start, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, flightsSchema)
	defer b.Release()
	ts := b.Field(0).(*array.TimestampBuilder)
	delay := b.Field(1).(*array.Int64Builder)
	dist := b.Field(2).(*array.Int64Builder)
	orig := b.Field(3).(*array.StringBuilder)
	dest := b.Field(4).(*array.StringBuilder)
	for _, bb := range []array.Builder{ts, delay, dist, orig, dest} {
		bb.Reserve(n)
	}
	for j := 0; j < n; j++ {
		i := start + j
		ts.Append(arrow.Timestamp(flightBase.UnixMilli() + int64(i)*1000))
		if i%17 == 0 {
			delay.AppendNull()
		} else {
			delay.Append(int64(i%120 - 20))
		}
		dist.Append(int64(100 + (i*7919)%4000))
		orig.Append(airports[i%len(airports)])
		if i%29 == 0 {
			dest.AppendNull()
		} else {
			dest.Append(airports[(i*5+3)%len(airports)])
		}
	}
	return b.NewRecordBatch()
}

var flightBase = time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)

// recordsEqual fails the test unless got and want hold the same rows
// (batch boundaries may differ).
func recordsEqual(tb testing.TB, want, got []arrow.RecordBatch) {
	tb.Helper()
	wt, gt := array.NewTableFromRecords(want[0].Schema(), want), array.NewTableFromRecords(got[0].Schema(), got)
	defer wt.Release()
	defer gt.Release()
	if !wt.Schema().Equal(gt.Schema()) {
		tb.Fatalf("schema: got %s, want %s", gt.Schema(), wt.Schema())
	}
	if wt.NumRows() != gt.NumRows() {
		tb.Fatalf("rows: got %d, want %d", gt.NumRows(), wt.NumRows())
	}
	for i := 0; i < int(wt.NumCols()); i++ {
		if !array.ChunkedEqual(wt.Column(i).Data(), gt.Column(i).Data()) {
			tb.Fatalf("column %s differs", wt.Schema().Field(i).Name)
		}
	}
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/%d", prefix, i)
	}
	return out
}
