package natsjs_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// TestFencedOutputsPublishOnce: a fenced output (here ~10 parts) is
// stored once, ever: publishing it again after the duplicate window has
// passed (a node that paused past its claim) fails with ErrFenced and
// stores nothing, where an unfenced publish would store it twice; another
// output still publishes.
func TestFencedOutputsPublishOnce(t *testing.T) {
	const maxPayload = 64 << 10
	b := brokertest.Start(t, brokertest.WithMaxPayload(maxPayload))
	js := brokertest.JetStream(t, b)
	ctx := testCtx(t, time.Minute)
	prefix := natsjs.FencePrefix("p", "out")
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OUT", Subjects: []string{"out", natsjs.FenceSubjects(prefix)},
		Duplicates: time.Second, AllowAtomicPublish: true})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	recs := []arrow.RecordBatch{flights(mem, 0, 9000), flights(mem, 9000, 9000)}
	defer release(recs)
	fenced, err := natsjs.NewPublisher(js, "out", natsjs.WithSourceID("p"), natsjs.WithFence(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer fenced.Close(ctx)
	publish := func(pub *natsjs.Publisher, input string) error {
		pds, err := pub.PublishParts(ctx, recs, natsjs.Meta{Lineage: []string{input}}, func(j int) string { return natsjs.OutputID("p", input, j) })
		for _, pd := range pds {
			if _, werr := pd.Wait(ctx); err == nil {
				err = werr
			}
		}
		return err
	}
	outputs := func() uint64 {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter("out"))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects["out"]
	}
	if err := publish(fenced, "src/1"); err != nil {
		t.Fatal(err)
	}
	parts := outputs()
	if parts < 9 {
		t.Fatalf("%d parts, want ~10", parts)
	}
	// The fence: no rows, decodable by any Arrow reader as an empty table.
	fence, err := st.GetLastMsgForSubject(ctx, natsjs.FenceSubject(prefix, natsjs.OutputID("p", "src/1", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if fence.Header.Get(natsjs.HeaderFence) != natsjs.OutputID("p", "src/1", 0) {
		t.Errorf("fence headers %v", fence.Header)
	}
	if recs, err := natsjs.Decode(fence.Data, mem); err != nil || len(recs) != 1 || recs[0].NumRows() != 0 {
		t.Errorf("fence body: %v, %d batches", err, len(recs))
	} else {
		recs[0].Release()
	}
	time.Sleep(1500 * time.Millisecond) // past the duplicate window
	if err := publish(fenced, "src/1"); !errors.Is(err, natsjs.ErrFenced) {
		t.Fatalf("second publish: %v, want ErrFenced", err)
	}
	if n := outputs(); n != parts {
		t.Fatalf("%d messages after the fenced replay, want %d", n, parts)
	}
	if err := publish(fenced, "src/2"); err != nil {
		t.Fatal(err)
	}
	if n := outputs(); n != 2*parts {
		t.Fatalf("%d messages after a second output, want %d", n, 2*parts)
	}
	// A reader of the whole stream (filter ">") skips the fences: the
	// rows of the two outputs, nothing else.
	cons, err := js.OrderedConsumer(ctx, "OUT", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := natsjs.NewSource(cons, js)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for {
		rec, err := src.Read(ctx)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		rows += rec.NumRows()
		rec.Release()
	}
	src.Close()
	if rows != 2*18000 {
		t.Errorf("whole-stream read: %d rows, want %d", rows, 2*18000)
	}
	// Without the fence the same replay past the window is stored again:
	// what the fence prevents.
	plain, err := natsjs.NewPublisher(js, "out", natsjs.WithSourceID("q"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)
	if err := publish(plain, "src/1"); err != nil {
		t.Fatal(err)
	}
	if n := outputs(); n != 3*parts {
		t.Fatalf("unfenced replay: %d messages, want %d (stored again)", n, 3*parts)
	}
}
