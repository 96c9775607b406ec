package node

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// The pipeline of the paused-node test: a stall system that the child
// node runs slowly on one partition.
const stallTOML = `
[node]
id = "${PCS_TEST_ID}"
http = "off"
drain_timeout = "10s"

[broker]
url = "${PCS_TEST_URL}"

[[pipeline]]
name = "f"
input = { subjects = ["in.f"], component = "event" }
output = { subject = "out.f" }
delivery = { ack_wait = "1s", nak_delay = "100ms" }

[[pipeline.component]]
name = "event"
fields = ["k: string", "v: int64"]

[[pipeline.system]]
use = "stall"
options = { component = "event" }
`

// TestStallChild is the node process of TestPausedNodePublishesNothing.
func TestStallChild(t *testing.T) { runChildNode(t, stallTOML) }

// TestPausedNodePublishesNothing: node A takes a partition and is stopped
// (SIGSTOP) in the middle of it, past its ack wait; node B takes the
// partition over, publishes its output and acks it; after the sink's
// duplicate window (1 s here, 2 min by default) A is continued and
// publishes the same output. The fence rejects it: the sink holds the
// output once. Without fences A's copy would be stored (the duplicate
// window is over), the fault campaign's duplicated rows after a 140 s
// pause.
func TestPausedNodePublishesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node processes")
	}
	b, js := listeningBroker(t)
	ctx := context.Background()
	// The sink as the node provisions it, with a 1 s duplicate window.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PCS_F_OUT", Subjects: []string{"out.f", natsjs.FenceSubjects(natsjs.FencePrefix("f", fenceOut))},
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardNew, MaxBytes: 1 << 30, Duplicates: time.Second, AllowAtomicPublish: true}); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "stalled")
	a, log := startChild(t, "TestStallChild", "PCS_TEST_URL="+b.ClientURL(), "PCS_TEST_ID=a",
		"PCS_TEST_STALL_ID="+natsjs.PartitionID("src", 1), "PCS_TEST_STALL_FILE="+marker)
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s; node A's log:\n%s", what, log.String())
	}
	waitUntil("node A to provision", func() bool { _, err := js.Stream(ctx, "PCS_F_IN"); return err == nil })
	pub, err := natsjs.NewPublisher(js, "in.f", natsjs.WithSourceID("src"))
	if err != nil {
		t.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil))
	rb.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	rb.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	rec := rb.NewRecordBatch()
	rb.Release()
	if err := pub.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil("node A to take the partition", func() bool { _, err := os.Stat(marker); return err == nil })
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	// Node B takes the partition over after A's ack wait.
	t.Setenv("PCS_TEST_ID", "b")
	t.Setenv("PCS_TEST_URL", b.ClientURL())
	cfg, err := ParseConfig("b.toml", []byte(stallTOML))
	if err != nil {
		t.Fatal(err)
	}
	nodeB, err := Start(ctx, cfg, withStall(), nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopB := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- nodeB.Run(runCtx) }()
	defer func() { stopB(); <-done; _ = nodeB.Close(ctx) }()
	outputs := func() uint64 {
		s, err := js.Stream(ctx, "PCS_F_OUT")
		if err != nil {
			return 0
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter("out.f"))
		if err != nil {
			return 0
		}
		return info.State.Subjects["out.f"]
	}
	waitUntil("node B to publish the output", func() bool { return outputs() == 1 })
	cons, err := js.Consumer(ctx, "PCS_F_IN", "f")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil("node B to ack the partition", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	time.Sleep(1500 * time.Millisecond) // past the sink's duplicate window

	// A wakes up and finishes the partition it no longer holds.
	if err := a.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // the rest of its 3 s stall, then its publish
	if n := outputs(); n != 1 {
		t.Fatalf("the sink holds the output %d times, want once; node A's log:\n%s", n, log.String())
	}
}

// withStall is the built-in registry with the stall system (not stalling
// in this process: PCS_TEST_STALL_ID is the child's).
func withStall() *plan.Registry {
	reg := plan.DefaultRegistry()
	reg.System("stall", stallSystem)
	return reg
}
