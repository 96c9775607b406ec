package natsjs_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

func publishN(t *testing.T, js jetstream.JetStream, subject, src string, n, rows int, opts ...natsjs.Option) {
	t.Helper()
	if err := publish(js, subject, src, n, rows, opts...); err != nil {
		t.Fatal(err)
	}
}

// publish publishes n flights partitions of rows rows; safe to call from
// any goroutine.
func publish(js jetstream.JetStream, subject, src string, n, rows int, opts ...natsjs.Option) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := natsjs.NewPublisher(js, subject, append([]natsjs.Option{natsjs.WithSourceID(src)}, opts...)...)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		rec := flights(memory.DefaultAllocator, i*rows, rows)
		err := pub.Write(ctx, rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return pub.Close(ctx)
}

// publishLater publishes after a delay in another goroutine; the
// returned channel yields its error.
func publishLater(js jetstream.JetStream, subject, src string, rows int) <-chan error {
	errc := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		errc <- publish(js, subject, src, 1, rows)
	}()
	return errc
}

func TestFetchDoesNotWaitForShortBatch(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "F", "f.>")
	cons := createConsumer(t, st, "c")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "f.in", "f", 3, 10)

	start := time.Now()
	ps, err := natsjs.Fetch(ctx, cons, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); len(ps) != 3 || took > time.Second {
		t.Fatalf("got %d partitions in %v, want 3 at once", len(ps), took)
	}
	for _, p := range ps {
		if err := p.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Nothing pending: Fetch blocks until ctx ends.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := natsjs.Fetch(short, cons, 10, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle fetch: %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 2*time.Second {
		t.Fatalf("idle fetch returned after %v", took)
	}

	// A partition published while Fetch waits is returned at once.
	errc := publishLater(js, "f.in", "late", 10)
	start = time.Now()
	ps, err = natsjs.Fetch(ctx, cons, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); len(ps) != 1 || took > 2*time.Second {
		t.Fatalf("got %d partitions after %v", len(ps), took)
	}
	if err := ps[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestFetchByteBound(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "FB", "fb.>")
	cons := createConsumer(t, st, "c")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "fb.in", "fb", 6, 8000) // ~300 KB each

	ps, err := natsjs.Fetch(ctx, cons, 100, 700<<10)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range ps {
		total += p.Size()
	}
	t.Logf("fetched %d partitions, %d bytes, with a 700 KiB bound", len(ps), total)
	if len(ps) < 1 || len(ps) > 3 || (len(ps) > 1 && total > 700<<10) {
		t.Fatalf("byte bound not honoured: %d partitions, %d bytes", len(ps), total)
	}
	// A bound below one partition still delivers that partition.
	more, err := natsjs.Fetch(ctx, cons, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(more) != 1 {
		t.Fatalf("tiny bound: %d partitions", len(more))
	}
}

func TestPartitionNakTermInProgress(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "N", "n.>")
	cons := createConsumer(t, st, "c")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "n.in", "n", 2, 10)

	ps := fetchAll(t, ctx, cons, 2)
	for _, p := range ps {
		if err := p.InProgress(); err != nil {
			t.Fatal(err)
		}
	}
	var nakked string
	for _, p := range ps {
		if p.ID() == "n/1" {
			nakked = p.ID()
			if err := p.Nak(0); err != nil {
				t.Fatal(err)
			}
		} else if err := p.Term("test"); err != nil {
			t.Fatal(err)
		}
	}
	again := fetchAll(t, ctx, cons, 1)
	if again[0].ID() != nakked || again[0].Delivered() != 2 {
		t.Fatalf("redelivered %s (delivery %d), want %s (2)", again[0].ID(), again[0].Delivered(), nakked)
	}
	if err := again[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if ps, err := natsjs.Fetch(short, cons, 10, 0); err == nil {
		t.Fatalf("terminated partition redelivered: %d", len(ps))
	}
}

func TestSourceReadsToEOFAndAcks(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "SRC", "src.>")
	cons := createConsumer(t, st, "c")
	ctx := testCtx(t, 30*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	const n, rows = 25, 500
	publishN(t, js, "src.in", "s", n, rows, natsjs.WithInlineLimit(8<<10)) // some go through the object store
	src, err := natsjs.NewSource(cons, js, natsjs.WithAllocator(mem), natsjs.WithFetchLimits(4, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if src.Schema() != nil {
		t.Fatal("schema of a subject source")
	}
	var got []arrow.RecordBatch
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	want := flights(mem, 0, n*rows)
	recordsEqual(t, []arrow.RecordBatch{want}, got)
	want.Release()
	release(got)
	if err := src.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		t.Fatalf("pending %d, ack pending %d after Ack", info.NumPending, info.NumAckPending)
	}
}

func TestSourceCopyToPublisher(t *testing.T) {
	js := startJetStream(t)
	in := createStream(t, js, "IN", "in.>")
	out := createStream(t, js, "OUTS", "outs.>")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "in.x", "x", 10, 100)

	src, err := natsjs.NewSource(createConsumer(t, in, "copy"), js)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := natsjs.NewPublisher(js, "outs.x", natsjs.WithSourceID("copy"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := transports.Copy(ctx, dst, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Batches != 10 || st.Rows != 1000 {
		t.Fatalf("copy stats %+v", st)
	}
	if err := dst.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_ = src.Close()
	info, err := out.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 10 {
		t.Fatalf("output stream has %d messages", info.State.Msgs)
	}
}

func TestSourceFollow(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "FO", "fo.>")
	ctx := testCtx(t, 30*time.Second)
	src, err := natsjs.NewSource(createConsumer(t, st, "c"), js, natsjs.WithFollow(true))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	errc := publishLater(js, "fo.in", "fo", 7)
	rec, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.NumRows() != 7 {
		t.Fatalf("%d rows", rec.NumRows())
	}
	rec.Release()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := src.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := src.Read(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("follow read on an idle subject: %v", err)
	}
}

func TestSourceCorruptPartition(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "SC", "sc.>")
	ctx := testCtx(t, 30*time.Second)
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "sc.in", Header: natsjs.Meta{ID: "bad/1", Rows: 1}.Header(), Data: []byte("junk")}); err != nil {
		t.Fatal(err)
	}
	publishN(t, js, "sc.in", "good", 1, 5)
	src, err := natsjs.NewSource(createConsumer(t, st, "c"), js)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = src.Read(ctx)
	var pe *natsjs.PartitionError
	if !errors.Is(err, natsjs.ErrCorrupt) || !errors.As(err, &pe) || pe.Partition.ID() != "bad/1" {
		t.Fatalf("corrupt partition: %v", err)
	}
	t.Log(err)
	if err := pe.Partition.Term("corrupt"); err != nil {
		t.Fatal(err)
	}
	rec, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.NumRows() != 5 {
		t.Fatalf("%d rows", rec.NumRows())
	}
	rec.Release()
}

func TestSourceMaxAckPending(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "MAP", "map.>")
	ctx := testCtx(t, 30*time.Second)
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 3})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, js, "map.in", "m", 5, 2)
	src, err := natsjs.NewSource(cons, js, natsjs.WithFetchLimits(2, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rows := 0
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, natsjs.ErrAckPending) {
			if err := src.Ack(ctx); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows += int(rec.NumRows())
		rec.Release()
	}
	if rows != 10 {
		t.Fatalf("%d rows, want 10", rows)
	}
}

// Next returns whole partitions and holds them; Redeliver gives one
// back, and a later Source drains it (and those a Close gave back) once
// nothing new is pending.
func TestSourceNextRedeliverDrain(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "SN", "sn.>")
	ctx := testCtx(t, 30*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	publishN(t, js, "sn.in", "sn", 4, 10)
	cons := createConsumer(t, st, "c")

	src, err := natsjs.NewSource(cons, js, natsjs.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"sn/1", "sn/2"} {
		p, recs, err := src.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID() != want || len(recs) != 1 || recs[0].NumRows() != 10 {
			t.Fatalf("Next #%d: %s with %d batches", i+1, p.ID(), len(recs))
		}
		release(recs)
		if i == 1 {
			if err := src.Redeliver(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if src.Unacked() != 1 || src.Buffered() != 2 {
		t.Fatalf("unacked %d, buffered %d; want 1, 2", src.Unacked(), src.Buffered())
	}
	if err := src.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	// sn/3 and sn/4 were fetched and not returned: Close naks them.
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Next(ctx); !errors.Is(err, natsjs.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}

	// Nothing new is pending; the three given back are due at once.
	src, err = natsjs.NewSource(cons, js, natsjs.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	var got []string
	for {
		p, recs, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		release(recs)
		got = append(got, p.ID())
		if p.Delivered() != 2 {
			t.Errorf("%s delivered %d times", p.ID(), p.Delivered())
		}
	}
	if took := time.Since(start); len(got) != 3 || took > 5*time.Second {
		t.Fatalf("drained %v in %v, want sn/2, sn/3, sn/4 at once", got, took)
	}
	// Nak gives them back again.
	if err := src.Nak(ctx); err != nil {
		t.Fatal(err)
	}
	if src.Unacked() != 0 {
		t.Fatalf("%d unacked after Nak", src.Unacked())
	}
	n := 0
	for {
		_, recs, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		release(recs)
		n++
	}
	if n != 3 {
		t.Fatalf("%d partitions after Nak, want 3", n)
	}
	if err := src.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		t.Fatalf("pending %d, ack pending %d at the end", info.NumPending, info.NumAckPending)
	}
}

// Held partitions are kept alive until Ack: a slow reader does not see
// them redelivered to another one.
func TestSourceKeepsHeldAlive(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "SK", "sk.>")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "sk.in", "sk", 3, 10)
	cons := createAckConsumer(t, st, "c", shortAckWait)

	slow, err := natsjs.NewSource(cons, js)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	for i := 0; i < 3; i++ {
		rec, err := slow.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	time.Sleep(2*shortAckWait + shortAckWait/2)
	other, err := natsjs.NewSource(cons, js)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if rec, err := other.Read(ctx); !errors.Is(err, io.EOF) {
		if rec != nil {
			rec.Release()
		}
		t.Fatalf("another reader during the heartbeats: %v, want io.EOF", err)
	}
	if err := slow.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumRedelivered != 0 {
		t.Fatalf("ack pending %d, redelivered %d", info.NumAckPending, info.NumRedelivered)
	}
}

// Over an ordered consumer (no acks) nothing is held or acked.
func TestSourceOrderedConsumer(t *testing.T) {
	js := startJetStream(t)
	createStream(t, js, "SO", "so.>")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "so.in", "so", 3, 10)
	cons, err := js.OrderedConsumer(ctx, "SO", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"so.in"}})
	if err != nil {
		t.Fatal(err)
	}
	src, err := natsjs.NewSource(cons, js, natsjs.WithFetchLimits(2, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ids []string
	for {
		p, recs, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		release(recs)
		ids = append(ids, p.ID())
		if err := src.Redeliver(p); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 3 || src.Unacked() != 0 {
		t.Fatalf("read %v, %d unacked", ids, src.Unacked())
	}
	if err := src.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}
