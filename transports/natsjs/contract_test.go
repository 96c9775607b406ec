package natsjs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// The names are part of the public contract: these are the strings
// nodes provisioned before they moved here.
func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{natsjs.InputStream("flights"), "PCS_FLIGHTS_IN"},
		{natsjs.InputStream("flights-etl.v2"), "PCS_FLIGHTS_ETL_V2_IN"},
		{natsjs.OutputStream("flights-etl.v2"), "PCS_FLIGHTS_ETL_V2_OUT"},
		{natsjs.DLQSubject("flights-etl"), "flights-etl.dlq"},
		{natsjs.DLQStream("PCS_FLIGHTS_ETL_IN"), "PCS_FLIGHTS_ETL_IN_DLQ"},
		{natsjs.LateSubject("flights-etl"), "flights-etl.late"},
		{natsjs.LateStream("PCS_FLIGHTS_ETL_IN"), "PCS_FLIGHTS_ETL_IN_LATE"},
		{natsjs.PartialsSubject("hourly", 3), "hourly.partials.3"},
		{natsjs.PartialsSubjects("hourly"), "hourly.partials.>"},
		{natsjs.PartialsStream("IN"), "IN_PARTIALS"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestEndOfInput(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{time.Time{}, false},
		{time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC), false},
		{time.Date(9998, 12, 31, 23, 59, 59, 999999999, time.UTC), false},
		{natsjs.EndOfInput, true},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), true}, // written by earlier pcs publish
	} {
		if got := natsjs.IsEndOfInput(tc.t); got != tc.want {
			t.Errorf("IsEndOfInput(%v) = %v", tc.t, got)
		}
		// Through the header and back.
		m, err := natsjs.ParseMeta(natsjs.Meta{ID: "s/1", Rows: 0, Watermark: tc.t}.Header())
		if err != nil {
			t.Fatal(err)
		}
		if m.IsEndOfInput() != tc.want {
			t.Errorf("Meta{Watermark: %v}.IsEndOfInput() = %v", tc.t, !tc.want)
		}
	}
}

// DeadLetter builds what the node publishes to <pipeline>.dlq: the
// original body and headers plus the error headers; JetStream stores it
// once under its deterministic id.
func TestDeadLetter(t *testing.T) {
	js := startJetStream(t)
	in := createStream(t, js, "DIN", "din.>")
	dlq := createStream(t, js, "DIN_DLQ", natsjs.DLQSubject("etl"))
	ctx := testCtx(t, 30*time.Second)
	// A corrupt partition with PCS headers and one foreign message
	// without an id.
	body := []byte("not arrow")
	h := natsjs.Meta{ID: "src/7", Rows: 3, Lineage: []string{"a/1"}}.Header()
	h.Set("X-Custom", "kept")
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "din.x", Header: h, Data: body}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "din.x", []byte("foreign")); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, js, createConsumer(t, in, "c"))
	ps := fetchN(t, c, 2)
	_, derr := ps[0].Decode(ctx, nil, nil)
	if !errors.Is(derr, natsjs.ErrCorrupt) {
		t.Fatalf("decode of a corrupt partition: %v", derr)
	}
	long := errors.New(strings.Repeat("é", 600)) // 1200 bytes
	for _, tc := range []struct {
		p      *natsjs.Partition
		reason string
		cause  error
		id     string
	}{
		{ps[0], natsjs.ReasonCorrupt, derr, "etl/src/7/dlq"},
		{ps[1], natsjs.ReasonMaxDeliver, long, "etl/DIN/2/dlq"},
	} {
		msg := natsjs.DeadLetter(tc.p, "etl", "node-1", tc.reason, tc.cause)
		if msg.Subject != "etl.dlq" {
			t.Fatalf("subject %q", msg.Subject)
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
		// Dead-lettered twice (a node died before the Term): stored once.
		if ack, err := js.PublishMsg(ctx, natsjs.DeadLetter(tc.p, "etl", "node-2", tc.reason, tc.cause)); err != nil || !ack.Duplicate {
			t.Fatalf("second dead letter: %+v, %v", ack, err)
		}
		if err := tc.p.Term(tc.reason); err != nil {
			t.Fatal(err)
		}
	}
	if h0 := ps[0].Msg().Headers(); h0.Get(natsjs.HeaderError) != "" {
		t.Fatal("DeadLetter modified the partition's headers")
	}

	get := func(seq uint64) *jetstream.RawStreamMsg {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	info, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("%d dead letters, want 2", info.State.Msgs)
	}
	m := get(1)
	want := map[string]string{
		natsjs.HeaderMsgID:        "etl/src/7/dlq",
		natsjs.HeaderRows:         "3",
		natsjs.HeaderLineage:      "a/1",
		"X-Custom":                "kept",
		natsjs.HeaderError:        derr.Error(),
		natsjs.HeaderErrorReason:  "corrupt",
		natsjs.HeaderDeliveries:   "1",
		natsjs.HeaderNode:         "node-1",
		natsjs.HeaderSourceStream: "DIN",
		natsjs.HeaderSourceSeq:    "1",
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("dead letter 1: %s = %q, want %q", k, got, v)
		}
	}
	if string(m.Data) != string(body) {
		t.Errorf("dead letter 1 body %q", m.Data)
	}
	m = get(2)
	e := m.Header.Get(natsjs.HeaderError)
	if len(e) > natsjs.MaxErrorBytes || len(e) < natsjs.MaxErrorBytes-1 || !utf8.ValidString(e) {
		t.Errorf("dead letter 2: %d-byte error (valid UTF-8: %v), want at most %d", len(e), utf8.ValidString(e), natsjs.MaxErrorBytes)
	}
	if got := fmt.Sprint(m.Header.Get(natsjs.HeaderMsgID), " ", m.Header.Get(natsjs.HeaderErrorReason), " ", string(m.Data)); got != "etl/DIN/2/dlq max_deliver foreign" {
		t.Errorf("dead letter 2: %s", got)
	}
}

// DeadLetter's source headers come from the message metadata; a
// partition without any still gets an id.
func TestPartitionKey(t *testing.T) {
	js := startJetStream(t)
	st := createStream(t, js, "PK", "pk.>")
	ctx := testCtx(t, 30*time.Second)
	if _, err := js.Publish(ctx, "pk.x", []byte("foreign")); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, js, createConsumer(t, st, "c"))
	p := fetchN(t, c, 1)[0]
	if p.ID() != "" || p.Key() != "PK/1" || p.Handle().Key() != "PK/1" {
		t.Fatalf("foreign message: id %q, key %q", p.ID(), p.Key())
	}
}
