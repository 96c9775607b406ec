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
