package node_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// windowNodeConfig is a one-node fleet (with a catalog) whose pipeline is
// the window system alone: sum(v) per tumbling 2 s window of ts (ms).
func windowNodeConfig(t *testing.T, url, catalogDir string) node.Config {
	src := `
[node]
id = "w1"
http = "off"
[broker]
url = "` + url + `"
[catalog]
dir = "` + catalogDir + `"
bind = "127.0.0.1:0"
bootstrap = true
election_timeout = "300ms"
[[pipeline]]
name = "w"
checkpoint_interval = "100ms"
max_in_flight = 1  # partitions in stream order: the watermark depends on it
input = { subjects = ["in.w"], component = "reading" }
output = { subject = "out.w" }
[[pipeline.component]]
name = "reading"
fields = ["ts: int64", "v: int64"]
[[pipeline.system]]
use = "window"
options = { time = "ts", window = "tumbling(2s)", aggregates = ["sum(v) as total"], out_of_orderness = "500ms" }
`
	cfg, err := node.ParseConfig("w.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestNodeWindow: the tumbling case on pcs-node (windows starting
// 0, 2000, 4000 sum to 30, 180, 340), with the node restarted between the
// partitions (its window state comes back from the checkpoint), and a row
// later than its window's allowed lateness published to w.late.
func TestNodeWindow(t *testing.T) {
	b := standalone(t)
	catDir := t.TempDir()
	reg := plan.NewRegistry()
	plan.RegisterBuiltins(reg)
	n := startNode(t, windowNodeConfig(t, b.ClientURL(), catDir), reg)
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	seq := uint64(1)
	send := func(ts, v []int64) {
		t.Helper()
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		rb.Field(0).(*array.Int64Builder).AppendValues(ts, nil)
		rb.Field(1).(*array.Int64Builder).AppendValues(v, nil)
		rec := rb.NewRecordBatch()
		rb.Release()
		pub, err := natsjs.NewPublisher(js, "in.w", natsjs.WithSourceID("sensor"), natsjs.WithStartSeq(seq))
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Write(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if err := pub.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	waitAcked := func() {
		t.Helper()
		cons, err := js.Consumer(context.Background(), "PCS_W_IN", "w")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			info, err := cons.Info(context.Background())
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0
		})
	}
	// 1000..5500 step 500, values 10..100: the first half, then a restart.
	send([]int64{1000, 1500, 2000, 2500, 3000}, []int64{10, 20, 30, 40, 50})
	waitAcked()
	n.stop(t) // graceful: the final checkpoint holds the open windows
	n = startNode(t, windowNodeConfig(t, b.ClientURL(), catDir), reg)
	send([]int64{3500, 4000, 4500, 5000, 5500}, []int64{60, 70, 80, 90, 100})
	send([]int64{9000}, []int64{1}) // the watermark passes 6000: every window fires
	send([]int64{100}, []int64{1000})
	waitAcked()
	// The producer's end of input (pcs publish --end-of-input): window 8000 fires.
	end := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	rec := end.NewRecordBatch()
	end.Release()
	pub, err := natsjs.NewPublisher(js, "in.w", natsjs.WithSourceID("sensor"))
	if err != nil {
		t.Fatal(err)
	}
	pending, err := pub.PublishAsync(context.Background(), []arrow.RecordBatch{rec}, natsjs.Meta{ID: natsjs.PartitionID("sensor", seq),
		Watermark: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)})
	rec.Release()
	if err == nil {
		_, err = pending.Wait(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	waitAcked()

	got := windowRows(t, js, "PCS_W_OUT", 4)
	if want := "[0:30 8000:1 2000:180 4000:340]"; fmt.Sprint(got) != want { // by length, then text
		t.Errorf("windows %v, want %s", got, want)
	}
	late := lateRows(t, js, "PCS_W_IN_LATE")
	if late != 1 {
		t.Errorf("%d late rows, want 1", late)
	}
	_ = n
}

// windowRows reads want result rows "start:total" from stream.
func windowRows(t *testing.T, js jetstream.JetStream, stream string, want int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for len(out) < want && ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if msg.Headers().Get(natsjs.HeaderFence) != "" {
			continue // an output's fence
		}
		recs, err := natsjs.NewPartition(msg).Decode(ctx, js, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			start := rec.Column(0).(*array.Timestamp)
			total := rec.Column(2).(*array.Int64)
			for i := 0; i < int(rec.NumRows()); i++ {
				out = append(out, fmt.Sprintf("%d:%d", start.Value(i), total.Value(i)))
			}
			rec.Release()
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) < len(out[j]) || len(out[i]) == len(out[j]) && out[i] < out[j] })
	return out
}

// lateRows counts the rows of the late stream.
func lateRows(t *testing.T, js jetstream.JetStream, stream string) int64 {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		fmt.Sscan(strings.TrimSpace(msg.Header.Get(natsjs.HeaderRows)), &n)
		rows += n
	}
	return rows
}
