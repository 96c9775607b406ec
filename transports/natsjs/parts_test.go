package natsjs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// TestPublishParts: an output of about 10x max_payload arrives as parts,
// each a complete IPC stream under the limit with Pcs-Part k/n and
// Pcs-Part-Of, that regroup to the same rows; publishing it again (a
// replay) publishes the same ids, which JetStream deduplicates.
func TestPublishParts(t *testing.T) {
	const maxPayload = 64 << 10
	b := brokertest.Start(t, brokertest.WithMaxPayload(maxPayload))
	js := brokertest.JetStream(t, b)
	ctx := testCtx(t, time.Minute)
	st := createStream(t, js, "OUT", "out")
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)

	// Two batches, ~10x the limit in all.
	recs := []arrow.RecordBatch{flights(mem, 0, 9000), flights(mem, 9000, 9000)}
	defer release(recs)
	body, err := natsjs.Encode(recs, natsjs.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < 9*maxPayload {
		t.Fatalf("test output is %d bytes, want ~10x %d", len(body), maxPayload)
	}
	pub, err := natsjs.NewPublisher(js, "out", natsjs.WithSourceID("p"), natsjs.WithEventTime("ts"))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	partID := func(j int) string { return natsjs.OutputID("p", "src/1", j) }
	publish := func() []*jetstream.PubAck {
		pds, err := pub.PublishParts(ctx, recs, natsjs.Meta{Lineage: []string{"src/1"}}, partID)
		if err != nil {
			t.Fatal(err)
		}
		var acks []*jetstream.PubAck
		for _, pd := range pds {
			ack, err := pd.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			acks = append(acks, ack)
		}
		return acks
	}
	first := publish()
	n := len(first)
	if n < 10 {
		t.Fatalf("%d parts, want >= 10", n)
	}
	for _, a := range first {
		if a.Duplicate {
			t.Fatal("first publish reported a duplicate")
		}
	}
	again := publish()
	if len(again) != n {
		t.Fatalf("replay: %d parts, want %d", len(again), n)
	}
	for j, a := range again {
		if !a.Duplicate || a.Sequence != first[j].Sequence {
			t.Fatalf("replay part %d: duplicate=%v seq %d, want a duplicate of seq %d", j, a.Duplicate, a.Sequence, first[j].Sequence)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Msgs; got != uint64(n) {
		t.Fatalf("stream holds %d messages, want %d", got, n)
	}

	var got []arrow.RecordBatch
	defer func() { release(got) }()
	var rows int64
	for seq := uint64(1); seq <= uint64(n); seq++ {
		raw, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if size := len(raw.Data) + headerBytes(raw.Header); size > maxPayload {
			t.Fatalf("part %d is %d bytes, above %d", seq, size, maxPayload)
		}
		m, err := natsjs.ParseMeta(raw.Header)
		if err != nil {
			t.Fatal(err)
		}
		j := int(seq - 1)
		if m.ID != partID(j) || m.Part != j+1 || m.Parts != n || m.PartOf != partID(0) || m.Object != nil {
			t.Fatalf("part %d: id %s part %d/%d of %s object %v", j, m.ID, m.Part, m.Parts, m.PartOf, m.Object)
		}
		if m.EventMin.IsZero() || len(m.Lineage) != 1 {
			t.Fatalf("part %d: event min %v lineage %v", j, m.EventMin, m.Lineage)
		}
		part, err := natsjs.Decode(raw.Data, mem)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range part {
			rows += r.NumRows()
		}
		if rows := sumRows(part); rows != m.Rows {
			t.Fatalf("part %d: %d rows, Pcs-Rows %d", j, rows, m.Rows)
		}
		got = append(got, part...)
	}
	recordsEqual(t, recs, got)
	t.Logf("%d-byte output, max_payload %d: %d parts, %d rows", len(body), maxPayload, n, rows)
	if s := pub.Stats(); s.ClaimChecks != 0 {
		t.Fatalf("%d claim checks, want 0", s.ClaimChecks)
	}
}

// TestPublishPartsOneRowTooLarge: a single row above the limit goes
// through the claim check; a small output is one message without part
// headers.
func TestPublishPartsOneRowTooLarge(t *testing.T) {
	const maxPayload = 8 << 10
	b := brokertest.Start(t, brokertest.WithMaxPayload(maxPayload))
	js := brokertest.JetStream(t, b)
	ctx := testCtx(t, time.Minute)
	st := createStream(t, js, "OUT", "out")
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	pub, err := natsjs.NewPublisher(js, "out", natsjs.WithSourceID("p"))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	wait := func(pds []*natsjs.Pending, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, pd := range pds {
			if _, err := pd.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return len(pds)
	}
	small := flights(mem, 0, 10)
	defer small.Release()
	if n := wait(pub.PublishParts(ctx, []arrow.RecordBatch{small}, natsjs.Meta{}, func(j int) string { return natsjs.PartID("small", j) })); n != 1 {
		t.Fatalf("small output: %d parts", n)
	}
	big := bigRow(t, mem, 3*maxPayload)
	defer big.Release()
	if n := wait(pub.PublishParts(ctx, []arrow.RecordBatch{big}, natsjs.Meta{}, func(j int) string { return natsjs.PartID("big", j) })); n != 1 {
		t.Fatalf("one big row: %d parts", n)
	}
	for seq, want := range map[uint64]bool{1: false, 2: true} {
		raw, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		m, err := natsjs.ParseMeta(raw.Header)
		if err != nil {
			t.Fatal(err)
		}
		if (m.Object != nil) != want || m.Parts != 0 {
			t.Fatalf("seq %d: object %v parts %d", seq, m.Object, m.Parts)
		}
	}
}

func sumRows(recs []arrow.RecordBatch) int64 {
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	return n
}

// headerBytes is what headers count against max_payload (NATS/1.0 line,
// "Key: value" lines, blank line).
func headerBytes(h nats.Header) int {
	m := &nats.Msg{Subject: "x", Header: h}
	return m.Size() - len(m.Subject)
}

// bigRow returns one row whose string is n bytes.
func bigRow(t *testing.T, mem memory.Allocator, n int) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(strings.Repeat("x", n))
	return b.NewRecordBatch()
}
