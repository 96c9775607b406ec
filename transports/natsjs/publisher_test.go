package natsjs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// fetchAll fetches until n partitions arrived.
func fetchAll(t *testing.T, ctx context.Context, cons jetstream.Consumer, n int) []*natsjs.Partition {
	t.Helper()
	var out []*natsjs.Partition
	for len(out) < n {
		ps, err := natsjs.Fetch(ctx, cons, 16, 0)
		if err != nil {
			t.Fatalf("fetch after %d of %d: %v", len(out), n, err)
		}
		out = append(out, ps...)
	}
	return out
}

func TestPublishFetchRoundTrip(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "FLIGHTS", "flights.>")
	ctx := testCtx(t, 30*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	pub, err := natsjs.NewPublisher(js, "flights.raw",
		natsjs.WithSourceID("src"), natsjs.WithEventTime("ts"), natsjs.WithCompression(natsjs.CompressionLZ4))
	if err != nil {
		t.Fatal(err)
	}
	const n, rows = 20, 3000
	want := map[string]arrow.RecordBatch{}
	for i := 0; i < n; i++ {
		rec := flights(mem, i*rows, rows)
		if err := pub.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		want[natsjs.PartitionID("src", uint64(i+1))] = rec
	}
	defer func() {
		for _, r := range want {
			r.Release()
		}
	}()
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stats := pub.Stats()
	if stats.Partitions != n || stats.Rows != n*rows || stats.ClaimChecks != 0 || stats.Failures != 0 || stats.Bytes == 0 {
		t.Fatalf("stats %+v", stats)
	}
	if err := pub.Write(ctx, want["src/1"]); !errors.Is(err, natsjs.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}

	cons := createConsumer(t, st, "c")
	parts := fetchAll(t, ctx, cons, n)
	for _, p := range parts {
		m, err := p.Meta()
		if err != nil {
			t.Fatal(err)
		}
		rec, ok := want[m.ID]
		if !ok {
			t.Fatalf("unexpected id %q", m.ID)
		}
		d, _ := natsjs.Describe([]arrow.RecordBatch{rec}, "ts")
		if m.Rows != rows || m.Schema != natsjs.Fingerprint(flightsSchema) || !m.EventMin.Equal(d.EventMin) || !m.EventMax.Equal(d.EventMax) || m.Object != nil {
			t.Fatalf("meta %+v", m)
		}
		if p.Subject() != "flights.raw" || p.StreamSeq() == 0 || p.Delivered() != 1 || len(p.Body()) == 0 {
			t.Fatalf("partition %s: subject %s seq %d delivered %d", m.ID, p.Subject(), p.StreamSeq(), p.Delivered())
		}
		got, err := p.Decode(ctx, js, mem)
		if err != nil {
			t.Fatal(err)
		}
		recordsEqual(t, []arrow.RecordBatch{rec}, got)
		release(got)
		if err := p.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		delete(want, m.ID)
		rec.Release()
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		t.Fatalf("consumer pending %d, ack pending %d", info.NumPending, info.NumAckPending)
	}
}

func TestPublishMetaAndLineage(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "OUT", "out.>")
	ctx := testCtx(t, 30*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	pub, err := natsjs.NewPublisher(js, "out.clean", natsjs.WithSourceID("clean"), natsjs.WithLineage("default/1"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := flights(mem, 0, 10), flights(mem, 10, 20)
	defer a.Release()
	defer b.Release()
	wm := flightBase.Add(time.Minute)
	meta := natsjs.Meta{ID: natsjs.OutputID("clean", "src/9", 0), Watermark: wm, Lineage: []string{"src/9", "src/10"}}
	pd, err := pub.PublishAsync(ctx, []arrow.RecordBatch{a, b}, meta)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := pd.Wait(ctx)
	if err != nil || ack.Duplicate || ack.Stream != "OUT" {
		t.Fatalf("ack %+v, %v", ack, err)
	}
	if err := pub.Publish(ctx, []arrow.RecordBatch{a}, natsjs.Meta{ID: "clean/x/0"}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, nil, natsjs.Meta{ID: "clean/x/1"}); !errors.Is(err, natsjs.ErrNoBatches) {
		t.Fatalf("no batches: %v", err)
	}
	if err := pub.Publish(ctx, []arrow.RecordBatch{a}, natsjs.Meta{}); !errors.Is(err, natsjs.ErrBadID) {
		t.Fatalf("no id: %v", err)
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}

	parts := fetchAll(t, ctx, createConsumer(t, st, "c"), 2)
	sort.Slice(parts, func(i, j int) bool { return parts[i].StreamSeq() < parts[j].StreamSeq() })
	m, err := parts[0].Meta()
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "clean/src/9/0" || m.Rows != 30 || !m.Watermark.Equal(wm) || fmt.Sprint(m.Lineage) != "[src/9 src/10]" {
		t.Fatalf("meta %+v", m)
	}
	got, err := parts[0].Decode(ctx, nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d batches, want 2 (one partition keeps its batches)", len(got))
	}
	recordsEqual(t, []arrow.RecordBatch{a, b}, got)
	release(got)
	if m2, _ := parts[1].Meta(); fmt.Sprint(m2.Lineage) != "[default/1]" || !m2.Watermark.IsZero() {
		t.Fatalf("default lineage: %+v", m2)
	}
	for _, p := range parts {
		if err := p.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// bigFlights returns a flights batch whose IPC body exceeds 20 MiB.
func bigFlights(mem memory.Allocator) arrow.RecordBatch { return flights(mem, 0, 560_000) }

func TestClaimCheck20MiB(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "BIG", "big.>")
	ctx := testCtx(t, 60*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	pub, err := natsjs.NewPublisher(js, "big.in", natsjs.WithSourceID("big"), natsjs.WithObjectBucket("claims", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rec := bigFlights(mem)
	defer rec.Release()
	start := time.Now()
	if err := pub.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stats := pub.Stats()
	t.Logf("published %d bytes through the object store in %v", stats.Bytes, time.Since(start))
	if stats.ClaimChecks != 1 || stats.Bytes < 20<<20 {
		t.Fatalf("stats %+v: want one claim check above 20 MiB", stats)
	}
	// Replaying the same partition reuses the object and is deduplicated.
	replay, err := natsjs.NewPublisher(js, "big.in", natsjs.WithSourceID("big"), natsjs.WithObjectBucket("claims", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := replay.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := replay.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s := replay.Stats(); s.Duplicates != 1 {
		t.Fatalf("replay stats %+v", s)
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}

	parts := fetchAll(t, ctx, createConsumer(t, st, "c"), 1)
	p := parts[0]
	m, err := p.Meta()
	if err != nil {
		t.Fatal(err)
	}
	if m.Object == nil || len(p.Body()) != 0 || m.Object.Bucket != "claims" || m.Object.Size < 20<<20 {
		t.Fatalf("claim check meta %+v, body %d bytes", m, len(p.Body()))
	}
	if p.Size() > natsjs.DefaultInlineLimit {
		t.Fatalf("message of %d bytes", p.Size())
	}
	start = time.Now()
	got, err := p.Decode(ctx, js, mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched and decoded in %v", time.Since(start))
	recordsEqual(t, []arrow.RecordBatch{rec}, got)
	release(got)
	if err := p.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Decode(ctx, nil, mem); !errors.Is(err, natsjs.ErrNoObjectStore) {
		t.Fatalf("nil object stores: %v", err)
	}
}

func TestClaimCheckTampered(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "T", "t.>")
	ctx := testCtx(t, 30*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	pub, err := natsjs.NewPublisher(js, "t.in", natsjs.WithSourceID("t"), natsjs.WithInlineLimit(16<<10))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		rec := flights(mem, i*2000, 2000)
		err := pub.Write(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	parts := fetchAll(t, ctx, createConsumer(t, st, "c"), 3)
	sort.Slice(parts, func(i, j int) bool { return parts[i].StreamSeq() < parts[j].StreamSeq() })
	obs, err := js.ObjectStore(ctx, natsjs.DefaultObjectBucket)
	if err != nil {
		t.Fatal(err)
	}
	m0, _ := parts[0].Meta()
	m1, _ := parts[1].Meta()
	m2, _ := parts[2].Meta()
	// 0: the object is replaced by other (valid Arrow) bytes: the object
	// store's own digest is consistent, the claim check's is not.
	other, err := obs.GetBytes(ctx, m1.Object.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, m0.Object.Name, other); err != nil {
		t.Fatal(err)
	}
	// 2: the object is deleted.
	if err := obs.Delete(ctx, m2.Object.Name); err != nil {
		t.Fatal(err)
	}
	for i, p := range []*natsjs.Partition{parts[0], parts[2]} {
		if _, err := p.Decode(ctx, js, mem); !errors.Is(err, natsjs.ErrCorrupt) {
			t.Errorf("partition %d: %v, want ErrCorrupt", i, err)
		} else {
			t.Logf("partition %d: %v", i, err)
		}
	}
	got, err := parts[1].Decode(ctx, js, mem)
	if err != nil {
		t.Fatal(err)
	}
	release(got)

	// A claim check pointing to a bucket that does not exist.
	ghost := m1
	ref := *m1.Object
	ref.Bucket = "ghost"
	ghost.Object = &ref
	ghost.ID = "t/ghost"
	msg := &nats.Msg{Subject: "t.in", Header: ghost.Header()}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	gp := fetchAll(t, ctx, createConsumer(t, st, "ghost"), 4)
	for _, p := range gp {
		if p.ID() == "t/ghost" {
			if _, err := p.Decode(ctx, js, mem); !errors.Is(err, natsjs.ErrCorrupt) {
				t.Errorf("missing bucket: %v, want ErrCorrupt", err)
			}
		}
	}
}

func TestCorruptOnTheWire(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "C", "c.>")
	ctx := testCtx(t, 30*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rec := flights(mem, 0, 100)
	body, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	good := natsjs.Meta{Rows: 100, Schema: natsjs.Fingerprint(flightsSchema)}
	cases := []struct {
		id   string
		meta natsjs.Meta
		body []byte
	}{
		{"garbage", good, []byte("not arrow at all")},
		{"truncated", good, body[:len(body)-100]},
		{"empty", good, nil},
		{"rows", natsjs.Meta{Rows: 99, Schema: good.Schema}, body},
		{"schema", natsjs.Meta{Rows: 100, Schema: "0123456789abcdef0123456789abcdef"}, body},
		{"header", natsjs.Meta{Rows: -1}, body},
	}
	for _, c := range cases {
		c.meta.ID = "c/" + c.id
		msg := &nats.Msg{Subject: "c.in", Header: c.meta.Header(), Data: c.body}
		if c.id == "header" {
			msg.Header.Set(natsjs.HeaderEventMax, "not a time")
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	parts := fetchAll(t, ctx, createConsumer(t, st, "c"), len(cases))
	for _, p := range parts {
		_, err := p.Decode(ctx, js, mem)
		if !errors.Is(err, natsjs.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", p.ID(), err)
		}
		if err := p.Term("corrupt"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDuplicateIsDeduplicated(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "D", "d.>")
	ctx := testCtx(t, 30*time.Second)
	rec := flights(memory.DefaultAllocator, 0, 10)
	defer rec.Release()
	pub, err := natsjs.NewPublisher(js, "d.in", natsjs.WithSourceID("d"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := pub.Publish(ctx, []arrow.RecordBatch{rec}, natsjs.Meta{ID: "d/1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream has %d messages, want 1", info.State.Msgs)
	}
	if s := pub.Stats(); s.Partitions != 3 || s.Duplicates != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPublishAckFailureSurfaces(t *testing.T) {
	js := startJetStream(t)
	createStream(t, js, "S", "s.>")
	ctx := testCtx(t, 30*time.Second)
	rec := flights(memory.DefaultAllocator, 0, 10)
	defer rec.Release()

	pub, err := natsjs.NewPublisher(js, "nostream.in", natsjs.WithSourceID("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Write(ctx, rec); err != nil {
		t.Fatalf("write is asynchronous, got %v", err)
	}
	err = pub.Flush(ctx)
	if err == nil {
		t.Fatal("flush reported no error for a subject without a stream")
	}
	t.Logf("flush: %v", err)
	if !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("flush error %v does not wrap ErrNoStreamResponse", err)
	}
	if err2 := pub.Write(ctx, rec); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("write after failure: %v, want the sticky %v", err2, err)
	}
	if err2 := pub.Close(ctx); err2 == nil {
		t.Error("close reported no error")
	}
	if s := pub.Stats(); s.Failures != 1 || s.Partitions != 0 {
		t.Errorf("stats %+v", s)
	}

	// PublishAsync reports through its Pending only.
	pub2, err := natsjs.NewPublisher(js, "nostream.in", natsjs.WithSourceID("y"))
	if err != nil {
		t.Fatal(err)
	}
	pd, err := pub2.PublishAsync(ctx, []arrow.RecordBatch{rec}, natsjs.Meta{ID: "y/1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pd.Wait(ctx); err == nil {
		t.Error("pending reported no error")
	}
	if err := pub2.Close(ctx); err != nil {
		t.Errorf("close after an async failure: %v", err)
	}

	// Headers that do not fit the inline limit are refused up front.
	pub3, err := natsjs.NewPublisher(js, "s.in", natsjs.WithSourceID("z"), natsjs.WithInlineLimit(1024))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub3.Publish(ctx, []arrow.RecordBatch{rec}, natsjs.Meta{ID: "z/1", Lineage: ids("very-long-lineage-id", 100)}); err == nil {
		t.Error("oversized headers accepted")
	}
	_ = pub3.Close(ctx)

	if _, err := natsjs.NewPublisher(js, "s.in"); !errors.Is(err, natsjs.ErrNoSourceID) {
		t.Errorf("no source id: %v", err)
	}
}

func TestRetryable(t *testing.T) {
	cases := map[error]bool{
		&jetstream.APIError{Code: 429, ErrorCode: 10167, Description: "too many requests"}:      true,
		&jetstream.APIError{Code: 503, Description: "JetStream system temporarily unavailable"}: true,
		&jetstream.APIError{Code: 400, Description: "bad request"}:                              false,
		jetstream.ErrNoStreamResponse:                             false,
		natsjs.ErrAckTimeout:                                      true,
		jetstream.ErrAsyncPublishTimeout:                          true,
		nats.ErrDisconnected:                                      true,
		fmt.Errorf("wrapped: %w", &jetstream.APIError{Code: 429}): true,
		errors.New("nats: too many requests"):                     true,
		io.EOF:                                                    false,
	}
	for err, want := range cases {
		if got := natsjs.Retryable(err); got != want {
			t.Errorf("%v: %v, want %v", err, got, want)
		}
	}
}

// TestPublishBurst overflows a stream's ingest queue, shrunk to 4
// messages (the default is 100k messages or 128 MiB: 1 MiB messages
// overflow it with over ~128 in flight), with 64 publishes in flight: the
// server answers 429 "too many requests" in the acks. With retries the
// Publisher stores every partition; without, Flush reports the 429.
func TestPublishBurst(t *testing.T) {
	rec := flights(memory.DefaultAllocator, 0, 100)
	defer rec.Release()
	const n = 600
	for _, tc := range []struct {
		name    string
		retries int
	}{{"retry", 30}, {"no retry", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			js := startJetStream(t, func(o *server.Options) { o.StreamMaxBufferedMsgs = 4 })
			st := createStream(t, js, "B", "b.>")
			ctx := testCtx(t, 60*time.Second)
			pub, err := natsjs.NewPublisher(js, "b.in", natsjs.WithSourceID("b"),
				natsjs.WithMaxInFlight(64), natsjs.WithRetry(tc.retries, 10*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			for i := 0; i < n; i++ {
				if err := pub.Write(ctx, rec); err != nil {
					if tc.retries == 0 {
						break // the sticky error of an earlier 429
					}
					t.Fatal(err)
				}
			}
			err = pub.Close(ctx)
			s := pub.Stats()
			t.Logf("%d partitions, %d KB in %v: %d retries, %d failures", s.Partitions, s.Bytes>>10, time.Since(start), s.Retries, s.Failures)
			info, ierr := st.Info(ctx)
			if ierr != nil {
				t.Fatal(ierr)
			}
			if tc.retries == 0 {
				if err == nil && s.Failures == 0 {
					t.Skip("no 429 provoked on this machine")
				}
				var apiErr *jetstream.APIError
				if !errors.As(err, &apiErr) || apiErr.Code != 429 {
					t.Fatalf("close: %v, want a 429 API error", err)
				}
				if s.Failures == 0 || info.State.Msgs >= n {
					t.Fatalf("stream has %d messages, stats %+v", info.State.Msgs, s)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Retries == 0 {
				t.Log("no 429 happened: the retry path was not exercised")
			}
			if info.State.Msgs != n || s.Partitions != n || s.Duplicates != 0 {
				t.Fatalf("stream has %d messages, stats %+v; want %d", info.State.Msgs, s, n)
			}
		})
	}
}
