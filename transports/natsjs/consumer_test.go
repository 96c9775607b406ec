package natsjs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// shortAckWait is the ack wait of the consumers of the redelivery tests.
const shortAckWait = time.Second

// createAckConsumer creates a durable consumer with explicit acks and
// the given ack wait.
func createAckConsumer(tb testing.TB, st jetstream.Stream, durable string, ackWait time.Duration) jetstream.Consumer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   durable,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   ackWait,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cons
}

func newConsumer(tb testing.TB, js jetstream.JetStream, cons jetstream.Consumer) *natsjs.Consumer {
	tb.Helper()
	c, err := natsjs.NewConsumer(js, cons)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// fetchN fetches until n partitions arrived (failing after 10 s).
func fetchN(tb testing.TB, c *natsjs.Consumer, n int) []*natsjs.Partition {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*natsjs.Partition
	for len(out) < n {
		ps, err := c.Fetch(ctx, n-len(out), 0)
		if err != nil {
			tb.Fatalf("fetched %d of %d partitions: %v", len(out), n, err)
		}
		out = append(out, ps...)
	}
	return out
}

// fetchNone fails unless nothing is delivered within d.
func fetchNone(tb testing.TB, c *natsjs.Consumer, d time.Duration, why string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ps, err := c.Fetch(ctx, 100, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		var ids []string
		for _, p := range ps {
			ids = append(ids, p.ID())
		}
		tb.Fatalf("%s: fetched %v (err %v), want nothing", why, ids, err)
	}
}

func ackPending(tb testing.TB, c *natsjs.Consumer) (pending uint64, ackPending int) {
	tb.Helper()
	info, err := c.Info(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return info.NumPending, info.NumAckPending
}

func TestConsumerFetchDecodesClaimChecks(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "CC", "cc.>")
	ctx := testCtx(t, 30*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// 8 KiB inline limit: the 400-row partitions go through the object store.
	publishN(t, js, "cc.in", "cc", 3, 400, natsjs.WithInlineLimit(8<<10))

	c := newConsumer(t, js, createConsumer(t, st, "c"))
	ps := fetchN(t, c, 3)
	var got []arrow.RecordBatch
	for i, p := range ps {
		if m, _ := p.Meta(); m.Object == nil || len(p.Body()) != 0 {
			t.Fatalf("partition %s is not a claim check", p.ID())
		}
		if p.Stream() != "CC" || p.StreamSeq() != uint64(i+1) || p.Key() != p.ID() || p.Delivered() != 1 {
			t.Fatalf("partition %s: stream %q seq %d key %q delivered %d", p.ID(), p.Stream(), p.StreamSeq(), p.Key(), p.Delivered())
		}
		// nil object stores: the Consumer's.
		recs, err := p.Decode(ctx, nil, mem)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, recs...)
		if err := p.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := flights(mem, 0, 3*400)
	recordsEqual(t, []arrow.RecordBatch{want}, got)
	want.Release()
	release(got)

	// A partition from NewPartition has no object stores of its own.
	publishN(t, js, "cc.in", "cc2", 1, 400, natsjs.WithInlineLimit(8<<10))
	raw, err := createConsumer(t, st, "raw").Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range raw.Messages() {
		if _, err := natsjs.NewPartition(m).Decode(ctx, nil, mem); !errors.Is(err, natsjs.ErrNoObjectStore) {
			t.Fatalf("claim check without object stores: %v", err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(ctx, 1, 0); !errors.Is(err, natsjs.ErrClosed) {
		t.Fatalf("Fetch after Close: %v", err)
	}
}

// The handles of a Consumer's partitions keep no message body and
// settle the partitions on the server: acked ones are gone, nak'ed ones
// come back at once, and InProgress holds one past its ack wait.
func TestAckHandles(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "AH", "ah.>")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "ah.in", "ah", 4, 10)
	c := newConsumer(t, js, createAckConsumer(t, st, "c", shortAckWait))

	var hs []*natsjs.AckHandle
	for _, p := range fetchN(t, c, 4) {
		h := p.Handle()
		if p.Handle() != h {
			t.Fatal("Handle returned another handle on the second call")
		}
		if natsjs.HandleKeepsMsg(h) {
			t.Fatalf("handle of %s keeps the message", p.ID())
		}
		if h.Key() != p.ID() || h.StreamSeq() != p.StreamSeq() || h.Delivered() != 1 {
			t.Fatalf("handle %s/%d/%d of partition %s/%d", h.Key(), h.StreamSeq(), h.Delivered(), p.ID(), p.StreamSeq())
		}
		hs = append(hs, h)
	}
	// The partitions are dropped: only the handles remain.
	if err := hs[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := hs[0].Ack(ctx); err == nil {
		t.Error("a second ack of the same handle succeeded")
	}
	if err := hs[1].Nak(0); err != nil {
		t.Fatal(err)
	}
	again := fetchN(t, c, 1)
	if again[0].ID() != "ah/2" || again[0].Delivered() != 2 {
		t.Fatalf("after a nak: %s (delivery %d), want ah/2 (2)", again[0].ID(), again[0].Delivered())
	}
	// hs[2] is kept alive past two ack waits; hs[3] and the redelivered
	// ah/2 are not, and come back.
	deadline := time.Now().Add(2*shortAckWait + shortAckWait/2)
	var back []string
	for time.Now().Before(deadline) {
		if err := hs[2].InProgress(); err != nil {
			t.Fatal(err)
		}
		fctx, cancel := context.WithTimeout(ctx, shortAckWait/4)
		ps, _ := c.Fetch(fctx, 10, 0)
		cancel()
		for _, p := range ps {
			back = append(back, p.ID())
			if err := p.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(back) != 2 || !(back[0] == "ah/2" || back[0] == "ah/4") || back[0] == back[1] {
		t.Fatalf("redelivered after the ack wait: %v, want ah/2 and ah/4", back)
	}
	if err := hs[2].Ack(ctx); err != nil {
		t.Fatalf("ack after heartbeats: %v", err)
	}
	if pending, ackPending := ackPending(t, c); pending != 0 || ackPending != 0 {
		t.Fatalf("pending %d, ack pending %d at the end", pending, ackPending)
	}
	fetchNone(t, c, 2*shortAckWait, "everything acked")
}

// Handles of partitions fetched without a connection (the package-level
// Fetch) keep the message and still settle.
func TestAckHandleWithoutConnection(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "AW", "aw.>")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "aw.in", "aw", 1, 10)
	cons := createConsumer(t, st, "c")
	ps, err := natsjs.Fetch(ctx, cons, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := ps[0].Handle()
	if !natsjs.HandleKeepsMsg(h) {
		t.Fatal("a handle without a connection must keep the message")
	}
	if err := h.InProgress(); err != nil {
		t.Fatal(err)
	}
	if err := h.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 {
		t.Fatalf("ack pending %d after the handle's ack", info.NumAckPending)
	}
}

func TestPartitionKeepAlive(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "KA", "ka.>")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "ka.in", "ka", 1, 10)
	c := newConsumer(t, js, createAckConsumer(t, st, "c", shortAckWait))

	p := fetchN(t, c, 1)[0]
	stop := p.KeepAlive(shortAckWait / 3)
	fetchNone(t, c, 2*shortAckWait+shortAckWait/2, "a partition kept alive")
	stop()
	stop() // a second stop does nothing
	// Without heartbeats it comes back after its ack wait.
	back := fetchN(t, c, 1)[0]
	if back.ID() != p.ID() || back.Delivered() != 2 {
		t.Fatalf("after the heartbeats stopped: %s (delivery %d)", back.ID(), back.Delivered())
	}
	if err := back.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAckSet(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "AS", "as.>")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "as.in", "as", 6, 10)
	c := newConsumer(t, js, createAckConsumer(t, st, "c", shortAckWait))

	var set natsjs.AckSet
	stop := set.KeepAlive(shortAckWait / 3)
	defer stop()
	ps := fetchN(t, c, 6)
	for _, p := range ps {
		set.Add(p.Handle())
	}
	if !set.Remove(ps[5].Handle()) || set.Remove(ps[5].Handle()) || set.Len() != 5 {
		t.Fatalf("Remove: %d handles left", set.Len())
	}
	if err := ps[5].Term("test"); err != nil {
		t.Fatal(err)
	}
	ps = nil
	// Held past two ack waits by one goroutine's heartbeats.
	fetchNone(t, c, 2*shortAckWait+shortAckWait/2, "partitions in a kept-alive set")

	// Nak: all back at once, the set empty.
	if err := set.Nak(0); err != nil {
		t.Fatal(err)
	}
	if set.Len() != 0 {
		t.Fatalf("%d handles left after Nak", set.Len())
	}
	for _, p := range fetchN(t, c, 5) {
		if p.Delivered() != 2 {
			t.Fatalf("%s delivered %d times", p.ID(), p.Delivered())
		}
		set.Add(p.Handle())
	}
	if err := set.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if set.Len() != 0 {
		t.Fatalf("%d handles left after Ack", set.Len())
	}
	if pending, ackPending := ackPending(t, c); pending != 0 || ackPending != 0 {
		t.Fatalf("pending %d, ack pending %d after Ack", pending, ackPending)
	}
	fetchNone(t, c, 2*shortAckWait, "an acked set")
}

// A failed ack leaves the handle in the set for the next Ack.
func TestAckSetKeepsFailedAcks(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "AF", "af.>")
	ctx := testCtx(t, 30*time.Second)
	publishN(t, js, "af.in", "af", 2, 10)
	c := newConsumer(t, js, createAckConsumer(t, st, "c", 30*time.Second))

	var set natsjs.AckSet
	ps := fetchN(t, c, 2)
	for _, p := range ps {
		set.Add(p.Handle())
	}
	// Acked behind the set's back: its double ack is refused locally.
	if err := ps[0].Handle().Ack(ctx); err != nil {
		t.Fatal(err)
	}
	err := set.Ack(ctx)
	if err == nil || set.Len() != 1 {
		t.Fatalf("Ack with an already acked handle: %v, %d left", err, set.Len())
	}
	t.Log(err)
	if _, ackPending := ackPending(t, c); ackPending != 0 {
		t.Fatalf("ack pending %d", ackPending)
	}
}
