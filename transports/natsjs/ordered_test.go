package natsjs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Ordered reads one subject in stream order from a start sequence, and
// Next returns at ctx's deadline so that the caller can checkpoint.
func TestOrdered(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "ORD", "ord.>")
	ctx := testCtx(t, 30*time.Second)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// Interleaved subjects: ord.a at stream sequences 1, 3, 5, 7; the
	// second of them through the object store.
	for i := 0; i < 4; i++ {
		var opts []natsjs.Option
		if i == 1 {
			opts = append(opts, natsjs.WithInlineLimit(1<<10), natsjs.WithStartSeq(2))
		} else {
			opts = append(opts, natsjs.WithStartSeq(uint64(i+1)))
		}
		publishN(t, js, "ord.a", "a", 1, 50, opts...)
		publishN(t, js, "ord.b", "b", 1, 5, natsjs.WithStartSeq(uint64(i+1)))
	}

	read := func(r *natsjs.Ordered, n int) []uint64 {
		t.Helper()
		var seqs []uint64
		for len(seqs) < n {
			p, err := r.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject() != "ord.a" {
				t.Fatalf("read %s from subject %s", p.ID(), p.Subject())
			}
			recs, err := p.Decode(ctx, nil, mem) // claim checks through js
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].NumRows() != 50 {
				t.Fatalf("partition %s: %d batches", p.ID(), len(recs))
			}
			release(recs)
			seqs = append(seqs, p.StreamSeq())
		}
		return seqs
	}

	r, err := natsjs.OpenOrdered(ctx, js, "ORD", "ord.a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(r, 4); !equalSeqs(got, 1, 3, 5, 7) {
		t.Fatalf("from the start: sequences %v", got)
	}
	// Idle: Next returns at the deadline, and the next message is not lost.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	if _, err := r.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle Next: %v", err)
	}
	cancel()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("idle Next returned after %v", took)
	}
	errc := publishLater(js, "ord.a", "later", 50)
	if got := read(r, 1); !equalSeqs(got, 9) {
		t.Fatalf("after an idle wait: sequences %v", got)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled ctx: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Next(ctx); !errors.Is(err, natsjs.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d consumers left after Close", info.State.Consumers)
	}

	// From a checkpoint's next sequence.
	r, err = natsjs.OpenOrdered(ctx, js, "ORD", "ord.a", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := read(r, 3); !equalSeqs(got, 5, 7, 9) {
		t.Fatalf("from sequence 4: sequences %v", got)
	}
}

// A Close from another goroutine ends a waiting Next.
func TestOrderedCloseWhileWaiting(t *testing.T) {
	js := startJetStream(t)
	createStream(t, js, "OW", "ow.>")
	ctx := testCtx(t, 30*time.Second)
	r, err := natsjs.OpenOrdered(ctx, js, "OW", "ow.x", 1)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := r.Next(ctx)
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	r.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, natsjs.ErrClosed) {
			t.Fatalf("Next ended by Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting Next")
	}
}

func equalSeqs(got []uint64, want ...uint64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
