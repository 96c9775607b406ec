package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

type row struct {
	ID int64   `arrow:"id"`
	V  float64 `arrow:"v"`
}

type derived struct {
	Doubled *float64 `arrow:"doubled"`
}

var (
	rowComp     = pcs.MustComponent[row]("row")
	derivedComp = pcs.MustComponent[derived]("derived")
	rowV        = pcs.MustField[*array.Float64](rowComp, "v")
	doubled     = pcs.MustField[*array.Float64](derivedComp, "doubled")
)

// double writes doubled = 2v; a negative v is a permanent error; hold, if
// set, is waited on (or ctx) before any work.
func double(hold <-chan struct{}) pcs.System {
	return pcs.SystemFunc(pcs.Meta("double").Read(rowV).Write(doubled), func(ctx context.Context, ds *pcs.Dataset) error {
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		v, err := rowV.Get(ds)
		if err != nil {
			return err
		}
		b := array.NewFloat64Builder(ds.Allocator())
		defer b.Release()
		for i, x := range v.Float64Values() {
			if x < 0 {
				return pcs.Permanent(fmt.Errorf("row %d: negative v %v", i, x))
			}
			b.Append(2 * x)
		}
		out := b.NewFloat64Array()
		defer out.Release()
		return doubled.Set(ds, out)
	})
}

func registry(hold <-chan struct{}) *plan.Registry {
	reg := plan.NewRegistry()
	reg.Component(rowComp)
	reg.Component(derivedComp)
	reg.System("double", func(plan.Options) (pcs.System, error) { return double(hold), nil })
	return reg
}

func testConfig(t *testing.T, url string) node.Config {
	cfg := node.Config{
		Node:   node.NodeConfig{ID: "test", HTTP: "127.0.0.1:0", DrainTimeout: plan.Duration(10 * time.Second)},
		Broker: node.BrokerConfig{URL: url, StoreDir: t.TempDir()},
		Pipelines: []plan.Pipeline{{
			Name:       "p",
			Components: []string{"row", "derived"},
			Input:      plan.InputConfig{Subjects: []string{"in.p"}, Component: "row"},
			Output:     plan.OutputConfig{Subject: "out.p"},
			Systems:    []plan.UseConfig{{Use: "double"}},
			Delivery:   plan.DeliveryConfig{NakDelay: plan.Duration(50 * time.Millisecond), AckWait: plan.Duration(5 * time.Second)},
			Retry:      plan.RetryConfig{MaxRetries: -1},
		}},
	}
	cfg.SetDefaults()
	cfg.Pipelines[0].Retry = plan.RetryConfig{Base: plan.Duration(time.Millisecond), Multiplier: 2, Cap: plan.Duration(time.Millisecond)}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is a node started and Run in the background.
type running struct {
	*node.Node
	cancel context.CancelFunc
	done   chan error
}

func startNode(t *testing.T, cfg node.Config, reg *plan.Registry) *running {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = node.NewLogger(testWriter{t}, "debug", "text")
	}
	n, err := node.Start(context.Background(), cfg, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Node: n, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run (SIGTERM), waits for the drain and closes the node.
func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Error(err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func rows(mem memory.Allocator, first, n int, v func(i int) float64) arrow.RecordBatch {
	rs := make([]row, n)
	for i := range rs {
		rs[i] = row{ID: int64(first + i), V: v(first + i)}
	}
	rec, err := rowComp.Batch(mem, rs)
	if err != nil {
		panic(err)
	}
	return rec
}

func publish(t *testing.T, js jetstream.JetStream, source string, recs ...arrow.RecordBatch) {
	t.Helper()
	pub, err := natsjs.NewPublisher(js, "in.p", natsjs.WithSourceID(source))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, rec := range recs {
		if err := pub.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// output collects the output partitions until want rows arrived.
type outRow struct {
	id      int64
	doubled float64
	part    string
}

func collect(t *testing.T, js jetstream.JetStream, stream string, want int) []outRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []outRow
	for len(out) < want {
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d rows arrived in 60s", len(out), want)
		}
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatalf("after %d of %d rows: %v", len(out), want, err)
		}
		if msg.Headers().Get(natsjs.HeaderFence) != "" {
			continue // an output's fence, not an output
		}
		recs, err := natsjs.NewPartition(msg).Decode(ctx, js, nil) // follows claim checks
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			ids := rec.Column(0).(*array.Int64)
			d := rec.Column(2).(*array.Float64)
			for i := 0; i < int(rec.NumRows()); i++ {
				out = append(out, outRow{id: ids.Value(i), doubled: d.Value(i), part: msg.Headers().Get(natsjs.HeaderMsgID)})
			}
			rec.Release()
		}
	}
	return out
}

func jsOf(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestNodeProcessesPartitions(t *testing.T) {
	cfg := testConfig(t, "")
	n := startNode(t, cfg, registry(nil))
	nc, err := n.Broker().Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	const parts, per = 12, 250
	mem := memory.NewGoAllocator()
	var recs []arrow.RecordBatch
	for k := 0; k < parts; k++ {
		recs = append(recs, rows(mem, k*per, per, func(i int) float64 { return float64(i) * 0.5 }))
	}
	publish(t, js, "src", recs...)
	out := collect(t, js, cfg.Pipelines[0].Output.Stream, parts*per)
	seen := map[int64]bool{}
	for _, r := range out {
		if seen[r.id] {
			t.Fatalf("row %d twice", r.id)
		}
		seen[r.id] = true
		if r.doubled != float64(r.id) { // 2 * (id * 0.5)
			t.Fatalf("row %d: doubled %v", r.id, r.doubled)
		}
	}
	if len(seen) != parts*per {
		t.Fatalf("%d distinct rows, want %d", len(seen), parts*per)
	}
	// Output ids are <pipeline>/<input id>/0, input ids src/<seq> from 1; each row
	// sits in the output of its own input partition.
	for _, r := range out {
		if want := fmt.Sprintf("p/src/%d/0", r.id/per+1); r.part != want {
			t.Fatalf("row %d in output %q, want %q", r.id, r.part, want)
		}
	}
}

func TestNodeDeadLettersPoisonPartitions(t *testing.T) {
	cfg := testConfig(t, "")
	n := startNode(t, cfg, registry(nil))
	nc, err := n.Broker().Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	ident := func(i int) float64 { return float64(i) }
	publish(t, js, "first", rows(mem, 0, 10, ident))
	// corrupt body
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "in.p", Data: []byte("not arrow"), Header: nats.Header{natsjs.HeaderMsgID: {"bad/1"}}}); err != nil {
		t.Fatal(err)
	}
	// wrong schema: no v column
	wrong := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil),
		[]arrow.Array{array.MakeArrayOfNull(mem, arrow.PrimitiveTypes.Int64, 3)}, 3)
	body, err := natsjs.Encode([]arrow.RecordBatch{wrong}, natsjs.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "in.p", Data: body, Header: natsjs.Meta{ID: "bad/2", Rows: 3}.Header()}); err != nil {
		t.Fatal(err)
	}
	// a system's permanent error
	pub, _ := natsjs.NewPublisher(js, "in.p", natsjs.WithSourceID("neg"))
	neg := rows(mem, 100, 5, func(i int) float64 { return -1 })
	if err := pub.Write(ctx, neg); err != nil {
		t.Fatal(err)
	}
	neg.Release()
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	publish(t, js, "last", rows(mem, 1000, 10, ident))

	out := collect(t, js, cfg.Pipelines[0].Output.Stream, 20)
	if len(out) != 20 {
		t.Fatalf("%d rows out, want 20", len(out))
	}
	dlq, err := js.OrderedConsumer(ctx, cfg.Pipelines[0].Input.Stream+"_DLQ", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for len(reasons) < 3 {
		msg, err := dlq.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("dlq after %v: %v", reasons, err)
		}
		h := msg.Headers()
		reasons[h.Get(natsjs.HeaderMsgID)] = h.Get(natsjs.HeaderErrorReason)
		if h.Get(natsjs.HeaderError) == "" || h.Get(natsjs.HeaderSourceSeq) == "" {
			t.Errorf("dlq message lacks error headers: %v", h)
		}
		if h.Get(natsjs.HeaderMsgID) == "p/bad/1/dlq" && string(msg.Data()) != "not arrow" {
			t.Errorf("dlq body %q, want the original", msg.Data())
		}
	}
	want := map[string]string{"p/bad/1/dlq": natsjs.ReasonCorrupt, "p/bad/2/dlq": natsjs.ReasonSchema, "p/neg/1/dlq": natsjs.ReasonPermanent}
	for id, r := range want {
		if reasons[id] != r {
			t.Errorf("dlq %s: reason %q, want %q (all: %v)", id, reasons[id], r, reasons)
		}
	}
}

// standalone starts a broker with a TCP listener for nodes that come and
// go.
func standalone(t *testing.T) *broker.Broker {
	return brokertest.Start(t, brokertest.WithListener())
}

func TestNodeStoppedMidBatchRedelivers(t *testing.T) {
	b := standalone(t)
	cfg := testConfig(t, b.ClientURL())
	cfg.Node.DrainTimeout = plan.Duration(200 * time.Millisecond)
	hold := make(chan struct{}) // never closed: node A never finishes
	a := startNode(t, cfg, registry(hold))
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	mem := memory.NewGoAllocator()
	const parts, per = 6, 100
	var recs []arrow.RecordBatch
	for k := 0; k < parts; k++ {
		recs = append(recs, rows(mem, k*per, per, func(i int) float64 { return float64(i) }))
	}
	publish(t, js, "src", recs...)
	// Wait until node A holds partitions in flight, then stop it.
	cons, _ := js.Consumer(context.Background(), cfg.Pipelines[0].Input.Stream, "p")
	waitFor(t, func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumAckPending > 0
	})
	a.stop(t)
	startNode(t, cfg, registry(nil))
	out := collect(t, js, cfg.Pipelines[0].Output.Stream, parts*per)
	ids := map[int64]int{}
	for _, r := range out {
		ids[r.id]++
	}
	for i := int64(0); i < parts*per; i++ {
		if ids[i] != 1 {
			t.Fatalf("row %d seen %d times", i, ids[i])
		}
	}
}

func TestNodeDrainLeavesNothingProcessedButUnacked(t *testing.T) {
	b := standalone(t)
	cfg := testConfig(t, b.ClientURL())
	hold := make(chan struct{})
	n := startNode(t, cfg, registry(hold))
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	mem := memory.NewGoAllocator()
	const parts = 10
	var recs []arrow.RecordBatch
	for k := 0; k < parts; k++ {
		recs = append(recs, rows(mem, k*10, 10, func(i int) float64 { return 1 }))
	}
	publish(t, js, "src", recs...)
	cons, _ := js.Consumer(context.Background(), cfg.Pipelines[0].Input.Stream, "p")
	// max_in_flight held by the stalled system, as many fetched ahead.
	waitFor(t, func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumAckPending == 2*cfg.Pipelines[0].MaxInFlight
	})
	// SIGTERM while partitions are held, then let them finish within the
	// drain timeout.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); n.stop(t) }()
	time.Sleep(100 * time.Millisecond)
	close(hold)
	wg.Wait()
	in, _ := js.Stream(context.Background(), cfg.Pipelines[0].Input.Stream)
	out, _ := js.Stream(context.Background(), cfg.Pipelines[0].Output.Stream)
	ii, _ := in.Info(context.Background())
	oi, _ := out.Info(context.Background(), jetstream.WithSubjectFilter(cfg.Pipelines[0].Output.Subject))
	outputs := oi.State.Subjects[cfg.Pipelines[0].Output.Subject] // not their fences
	// Work queue: acked inputs are gone. Every input is either still
	// queued (never processed, or nak'ed) or acked with its output
	// published: a processed but unacked input would be counted twice.
	if ii.State.Msgs+outputs != parts || outputs == 0 {
		t.Errorf("inputs left %d + outputs %d, want %d with at least one output", ii.State.Msgs, outputs, parts)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bigRows builds n rows with plain builders (fast under -race).
func bigRows(mem memory.Allocator, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, rowComp.Schema())
	defer b.Release()
	ids, vs := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Float64Builder)
	ids.Reserve(n)
	vs.Reserve(n)
	for i := 0; i < n; i++ {
		ids.UnsafeAppend(int64(i))
		vs.UnsafeAppend(float64(i) / 2)
	}
	return b.NewRecordBatch()
}

// TestNodeClaimCheckPartition: a 20 MiB input arrives through the claim
// check; its 30 MiB output is published as parts under max_payload
// (ids p/big/1/<j>, Pcs-Part j+1 of n), not as a claim check, so stock
// Arrow readers decode every sink message.
func TestNodeClaimCheckPartition(t *testing.T) {
	cfg := testConfig(t, "")
	n := startNode(t, cfg, registry(nil))
	nc, err := n.Broker().Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	const rowsN = 1_310_720 // 16 bytes a row: a 20 MiB partition
	publish(t, js, "big", bigRows(memory.NewGoAllocator(), rowsN))
	out := collect(t, js, cfg.Pipelines[0].Output.Stream, rowsN)
	parts := map[string]bool{}
	for _, r := range out {
		if r.doubled != float64(r.id) || !strings.HasPrefix(r.part, "p/big/1/") {
			t.Fatalf("row %+v", r)
		}
		parts[r.part] = true
	}
	ctx := context.Background()
	st, err := js.Stream(ctx, cfg.Pipelines[0].Output.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(cfg.Pipelines[0].Output.Subject))
	if err != nil {
		t.Fatal(err)
	}
	if msgs := info.State.Subjects[cfg.Pipelines[0].Output.Subject]; int(msgs) != len(parts) || len(parts) < 30 {
		t.Fatalf("%d output messages, %d part ids: want one message per part, >= 30 parts", msgs, len(parts))
	}
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(natsjs.HeaderFence) != "" {
			continue // the output's fence
		}
		meta, err := natsjs.ParseMeta(m.Header)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Object != nil || meta.Parts != len(parts) || meta.PartOf != "p/big/1/0" || len(m.Data) > int(nc.MaxPayload()) {
			t.Fatalf("seq %d: %s part %d/%d of %s, object %v, %d bytes", seq, meta.ID, meta.Part, meta.Parts, meta.PartOf, meta.Object, len(m.Data))
		}
	}
	objs, err := js.ObjectStore(ctx, cfg.Broker.ObjectBucket)
	if err != nil {
		t.Fatal(err)
	}
	os, err := objs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if os.Size() < 20<<20 || os.Size() >= 2*20<<20 {
		t.Errorf("object store holds %d bytes: the input only should be claim-checked", os.Size())
	}
}

func TestNodeSlowSinkPausesFetching(t *testing.T) {
	b := standalone(t)
	cfg := testConfig(t, b.ClientURL())
	p := &cfg.Pipelines[0]
	p.Output.Retention = "workqueue" // the slow consumer's acks free space
	p.Output.MaxBytes = 128 << 10
	p.Backpressure.Poll = plan.Duration(20 * time.Millisecond)
	n := startNode(t, cfg, registry(nil))
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	const parts, per = 40, 500 // outputs of ~12 KiB: the stream holds ~10
	var recs []arrow.RecordBatch
	mem := memory.NewGoAllocator()
	for k := 0; k < parts; k++ {
		recs = append(recs, rows(mem, k*per, per, func(i int) float64 { return float64(i) }))
	}
	publish(t, js, "src", recs...)

	var paused sync.WaitGroup
	paused.Add(1)
	go func() { // watch pcs_paused
		defer paused.Done()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if strings.Contains(scrape(t, n.HTTPAddr()), `pcs_paused{pipeline="p"} 1`) {
				return
			}
		}
		t.Error("fetching never paused")
	}()
	paused.Wait()
	// Now drain the sink slowly: a durable consumer acking one at a time.
	ctx := context.Background()
	cons, err := js.CreateConsumer(ctx, p.Output.Stream, jetstream.ConsumerConfig{Durable: "slow", AckPolicy: jetstream.AckExplicitPolicy,
		FilterSubject: p.Output.Subject}) // the outputs, not their fences
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for len(seen) < parts*per {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("after %d rows: %v", len(seen), err)
		}
		recs, err := natsjs.NewPartition(msg).Decode(ctx, js, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			for _, id := range rec.Column(0).(*array.Int64).Int64Values() {
				if seen[id] {
					t.Fatalf("row %d twice", id)
				}
				seen[id] = true
			}
			rec.Release()
		}
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(scrape(t, n.HTTPAddr()), `pcs_paused{pipeline="p"} 0`) {
		t.Error("fetching did not resume")
	}
}

func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestNodeBuiltinSystems runs a pipeline made of built-in systems only
// (filter, derive), declared in the config.
func TestNodeBuiltinSystems(t *testing.T) {
	cfg := testConfig(t, "")
	p := &cfg.Pipelines[0]
	p.Components = []string{"row"}
	p.Output.Components = []string{"row"}
	p.Systems = []plan.UseConfig{
		{Use: "filter", Options: map[string]any{"component": "row", "expression": "v >= 10"}},
		{Use: "derive", Options: map[string]any{"component": "row", "field": "v", "expression": "v * 2"}},
	}
	reg := registry(nil)
	plan.RegisterBuiltins(reg)
	n := startNode(t, cfg, reg)
	nc, err := n.Broker().Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	publish(t, js, "src", rows(memory.NewGoAllocator(), 0, 100, func(i int) float64 { return float64(i) }))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, p.Output.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{p.Output.Subject}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := natsjs.NewPartition(msg).Decode(ctx, js, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if len(recs) != 1 || recs[0].NumCols() != 2 || recs[0].NumRows() != 90 {
		t.Fatalf("output %v", recs)
	}
	ids, vs := recs[0].Column(0).(*array.Int64), recs[0].Column(1).(*array.Float64)
	for i := 0; i < ids.Len(); i++ {
		if id := ids.Value(i); id != int64(i+10) || vs.Value(i) != 2*float64(id) {
			t.Fatalf("row %d: id %d v %v", i, id, vs.Value(i))
		}
	}
}

func TestBuiltinOptionErrors(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Pipelines[0].Systems = []plan.UseConfig{{Use: "filter", Options: map[string]any{"component": "row", "expresion": "v > 1"}}}
	reg := registry(nil)
	plan.RegisterBuiltins(reg)
	_, err := node.Start(context.Background(), cfg, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, node.ErrConfig) || !strings.Contains(err.Error(), "expresion") || !strings.Contains(err.Error(), `system 1 ("filter")`) {
		t.Fatalf("err = %v", err)
	}
	cfg.Pipelines[0].Systems = []plan.UseConfig{{Use: "filter", Options: map[string]any{"component": "nope", "expression": "v > 1"}}}
	if _, err := node.Start(context.Background(), cfg, reg, slog.New(slog.NewTextHandler(io.Discard, nil))); !errors.Is(err, plan.ErrUnknownName) {
		t.Fatalf("err = %v", err)
	}
}

// TestEmbeddedBrokerListenPortZero: broker.listen = "127.0.0.1:0" picks a
// free port (not 4222) and the status reports it; clients connect there.
func TestEmbeddedBrokerListenPortZero(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Broker.Listen = "127.0.0.1:0"
	n := startNode(t, cfg, registry(nil))
	url := n.Status(context.Background()).Broker
	if url == "" || strings.HasSuffix(url, ":4222") || strings.HasSuffix(url, ":0") {
		t.Fatalf("broker url %q", url)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// TestDeliverySettingsReachTheConsumer: delivery.max_ack_pending and
// delivery.backoff are the durable consumer's (not fixed at 1000 and
// unset), and ack_wait follows backoff[0].
func TestDeliverySettingsReachTheConsumer(t *testing.T) {
	b := standalone(t)
	cfg := testConfig(t, b.ClientURL())
	d := &cfg.Pipelines[0].Delivery
	d.AckWait, d.MaxAckPending = 0, 7
	d.BackOff = []plan.Duration{plan.Duration(2 * time.Second), plan.Duration(4 * time.Second)}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, cfg, registry(nil))
	js, err := jetstream.New(n.Conn())
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(context.Background(), cfg.Pipelines[0].Input.Stream, cfg.Pipelines[0].Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	c := cons.CachedInfo().Config
	if c.MaxAckPending != 7 || c.AckWait != 2*time.Second || !slices.Equal(c.BackOff, []time.Duration{2 * time.Second, 4 * time.Second}) {
		t.Errorf("consumer config: max_ack_pending %d, ack_wait %v, backoff %v", c.MaxAckPending, c.AckWait, c.BackOff)
	}
}

// TestNodeDeadLettersExhaustedPartitions: a partition whose deliveries all
// ended without an ack or nak (the nodes holding it crashed: here a bare
// client takes it twice and never settles it) is dead-lettered with reason
// max_deliver once the server gives up, through the MAX_DELIVERIES
// advisory kept in the advisory stream, even though no node was running
// when the advisory fired; it leaves the input stream.
func TestNodeDeadLettersExhaustedPartitions(t *testing.T) {
	b := standalone(t)
	cfg := testConfig(t, b.ClientURL())
	pc := &cfg.Pipelines[0]
	pc.Delivery.MaxDeliver, pc.Delivery.AckWait = 2, plan.Duration(500*time.Millisecond)
	first := startNode(t, cfg, registry(nil)) // provisions the streams and consumers
	first.stop(t)

	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	ctx := context.Background()
	publish(t, js, "doomed", rows(memory.NewGoAllocator(), 0, 10, func(i int) float64 { return float64(i) }))
	cons, err := js.Consumer(ctx, pc.Input.Stream, pc.Input.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	for d := 1; d <= 2; d++ { // a "node" takes it and dies, twice
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range batch.Messages() {
			n++
		}
		if n != 1 {
			t.Fatalf("delivery %d: %d messages", d, n)
		}
	}
	startNode(t, cfg, registry(nil))
	dlq, err := js.OrderedConsumer(ctx, natsjs.DLQStream(pc.Input.Stream), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := dlq.Next(jetstream.FetchMaxWait(15 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Headers()
	if h.Get(natsjs.HeaderMsgID) != "p/doomed/1/dlq" || h.Get(natsjs.HeaderErrorReason) != natsjs.ReasonMaxDeliver || h.Get(natsjs.HeaderDeliveries) != "2" {
		t.Errorf("dlq headers %v", h)
	}
	recs, err := natsjs.Decode(msg.Data(), memory.NewGoAllocator())
	if err != nil || len(recs) != 1 || recs[0].NumRows() != 10 {
		t.Fatalf("dlq body: %v, %d batches", err, len(recs))
	}
	recs[0].Release()
	waitFor(t, func() bool {
		info, err := js.Stream(ctx, pc.Input.Stream)
		return err == nil && info.CachedInfo().State.Msgs == 0
	})
}
