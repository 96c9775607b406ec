package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// The window pipeline of the SIGKILL test: sessions (gap 300 ms) per key
// k, sum and count, with the window state in Pebble, at most 16 keys in
// memory (the state spills after every partition) and checkpointed
// incrementally (node/ckptfiles.go). After the kill, JetStream redelivers
// the unacked partitions in no set order: the out-of-orderness bound
// (20 s, the partitions span 30 s) keeps their rows from being late, so
// the results are those of the in-order run.
const windowPebbleTOML = `
[node]
id = "w1"
http = "off"
drain_timeout = "5s"

[broker]
url = "${PCS_TEST_URL}"

[catalog]
dir = "${PCS_TEST_DIR}"
bind = "127.0.0.1:0"
bootstrap = true
election_timeout = "300ms"

[[pipeline]]
name = "w"
checkpoint_interval = "200ms"
max_in_flight = 1
input = { subjects = ["in.w"], component = "event" }
output = { subject = "out.w" }
delivery = { ack_wait = "2s", nak_delay = "100ms" }
state = { backend = "pebble", dir = "${PCS_TEST_STATE}", cache = "8MiB", resident = 16 }

[[pipeline.component]]
name = "event"
fields = ["ts: int64", "k: string", "v: int64"]

[[pipeline.system]]
use = "window"
options = { time = "ts", window = "session(300ms)", keys = ["k"], aggregates = ["sum(v) as total", "count(*) as n"], out_of_orderness = "20s" }
`

// TestWindowPebbleChild is the node process of
// TestWindowPebbleSurvivesSIGKILL.
func TestWindowPebbleChild(t *testing.T) { runChildNode(t, windowPebbleTOML) }

// windowKillPartition is partition seq of the test's input: 200 rows of
// 50 keys over one second.
func windowKillPartition(seq uint64) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
		{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	for i := range 200 {
		rb.Field(0).(*array.Int64Builder).Append(int64(seq)*1000 + int64(i)*5)
		rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("k%d", (int(seq)*7+i)%50))
		rb.Field(2).(*array.Int64Builder).Append(int64(seq)*1000 + int64(i))
	}
	return rb.NewRecordBatch()
}

// resultLines renders window results as "k|start|end|total|n|update".
func resultLines(rec arrow.RecordBatch) []string {
	var out []string
	for r := range int(rec.NumRows()) {
		var cells []string
		for _, c := range rec.Columns() {
			cells = append(cells, c.ValueStr(r))
		}
		out = append(out, strings.Join(cells, "|"))
	}
	return out
}

// TestWindowPebbleSurvivesSIGKILL runs a session-window pipeline with
// its state in Pebble in a child node, kills it with SIGKILL while it
// holds processed-but-unacked partitions, restarts it (the state comes
// back from the incremental checkpoint's files), ends the input, and
// checks the windows published against the same pipeline run in memory
// in this process, without a crash: the same results, each window once
// with one value.
func TestWindowPebbleSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node processes")
	}
	const parts = 30
	// The in-memory run.
	src := strings.NewReplacer("${PCS_TEST_URL}", "nats://127.0.0.1:1", "${PCS_TEST_DIR}", t.TempDir(), "${PCS_TEST_STATE}", t.TempDir()).Replace(windowPebbleTOML)
	cfg, err := ParseConfig("w.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	pc := cfg.Pipelines[0]
	pc.State = plan.StateConfig{Backend: "memory"}
	p, err := plan.Build(context.Background(), pc, plan.DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for seq := uint64(1); seq <= parts; seq++ {
		rec := windowKillPartition(seq)
		out, err := p.Step(context.Background(), plan.Input{ID: fmt.Sprint(seq), Batches: []arrow.RecordBatch{rec}})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if out.Results != nil {
			want = append(want, resultLines(out.Results)...)
			out.Results.Release()
		}
	}
	out, err := p.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, resultLines(out.Results)...)
	out.Results.Release()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)

	// The node run.
	b, js := listeningBroker(t)
	dir, stateDir := t.TempDir(), t.TempDir()
	child := func() (func(os.Signal) error, func() error, *syncBuffer) {
		cmd, log := startChild(t, "TestWindowPebbleChild", "PCS_TEST_URL="+b.ClientURL(), "PCS_TEST_DIR="+dir, "PCS_TEST_STATE="+stateDir)
		return cmd.Process.Signal, cmd.Wait, log
	}
	seq := uint64(1)
	publish := func(n int) {
		pub, err := natsjs.NewPublisher(js, "in.w", natsjs.WithSourceID("src"), natsjs.WithStartSeq(seq))
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			rec := windowKillPartition(seq)
			if err := pub.Write(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
			seq++
		}
		if err := pub.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string, cond func(*jetstream.ConsumerInfo) bool, log *syncBuffer) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if cons, err := js.Consumer(context.Background(), "PCS_W_IN", "w"); err == nil {
				if info, err := cons.Info(context.Background()); err == nil && cond(info) {
					return
				}
			}
		}
		t.Fatalf("timed out waiting for %s; node log:\n%s", what, log.String())
	}
	acked := func(i *jetstream.ConsumerInfo) bool { return i.NumPending == 0 && i.NumAckPending == 0 }

	signal, exit, log := child()
	wait("the node to provision its streams", func(*jetstream.ConsumerInfo) bool { return true }, log)
	publish(parts / 2)
	wait("run 1 to ack the first half", acked, log)
	publish(parts / 2)
	wait("partitions in flight", func(i *jetstream.ConsumerInfo) bool { return i.NumPending == 0 && i.NumAckPending > 0 }, log)
	if err := signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = exit()

	signal, exit, log = child()
	wait("run 2 to ack everything", acked, log)
	// The end of input: every session fires.
	pub, err := natsjs.NewPublisher(js, "in.w", natsjs.WithSourceID("src"))
	if err != nil {
		t.Fatal(err)
	}
	empty := windowKillPartition(0).NewSlice(0, 0)
	pending, err := pub.PublishAsync(context.Background(), []arrow.RecordBatch{empty},
		natsjs.Meta{ID: natsjs.PartitionID("src", seq), Watermark: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)})
	empty.Release()
	if err == nil {
		_, err = pending.Wait(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	wait("the end of input to be acked", acked, log)
	if err := signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := exit(); err != nil {
		t.Fatalf("node exit: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "state restored") {
		t.Errorf("run 2 did not restore a checkpoint:\n%s", log.String())
	}

	got := map[string]string{} // window (key|start) -> its row
	var rows int
	for _, l := range readResults(t, js, "PCS_W_OUT") {
		rows++
		w := strings.Join(strings.SplitN(l, "|", 3)[:2], "|")
		if prev, ok := got[w]; ok && prev != l {
			t.Errorf("window %s published as %s and as %s", w, prev, l)
		}
		got[w] = l
	}
	var lines []string
	for _, l := range got {
		lines = append(lines, l)
	}
	slices.Sort(lines)
	if !slices.Equal(lines, want) {
		t.Fatalf("node (pebble, killed): %d windows\n%s\nwant (memory) %d\n%s", len(lines), strings.Join(lines, "\n"), len(want), strings.Join(want, "\n"))
	}
	// The committed checkpoint is a manifest of the state's files (the
	// last may list no SST: every session fired, the store is empty).
	obs, err := js.ObjectStore(context.Background(), CheckpointBucket)
	if err != nil {
		t.Fatal(err)
	}
	data, err := obs.GetBytes(context.Background(), "w/w1/"+lastSeq(t, obs))
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := parseCheckpoint(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Systems) != 1 || !h.Systems[0].Files {
		t.Errorf("checkpoint systems %+v, want the window's as files", h.Systems)
	}
	var files int
	_ = filepath.WalkDir(stateDir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(d.Name(), ".sst") {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Error("the node kept no SST in its Pebble directory")
	}
	t.Logf("%d windows exact after SIGKILL and restore (%d result rows published)", len(want), rows)
}

// readResults reads every result row of the output stream.
func readResults(t *testing.T, js jetstream.JetStream, stream string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if msg.Headers().Get(natsjs.HeaderFence) != "" {
			continue
		}
		recs, err := natsjs.NewPartition(msg).Decode(ctx, js, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			out = append(out, resultLines(rec)...)
			rec.Release()
		}
	}
	return out
}

// lastSeq returns the sequence of the one checkpoint object of node w1
// of pipeline w (older ones are deleted).
func lastSeq(t *testing.T, obs jetstream.ObjectStore) string {
	t.Helper()
	infos, err := obs.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for _, o := range infos {
		if rest, ok := strings.CutPrefix(o.Name, "w/w1/"); ok && !strings.Contains(rest, "/") {
			seqs = append(seqs, rest)
		}
	}
	if len(seqs) != 1 {
		t.Fatalf("checkpoint objects %v, want one", seqs)
	}
	return seqs[0]
}
