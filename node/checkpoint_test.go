package node

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ops"
	"github.com/pcs-dev/pcs/pcs/state/pebblestate"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// The stateful pipeline of the checkpoint test: running totals of v per
// key k, from TOML alone.
const totalsTOML = `
[node]
id = "s1"
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
name = "t"
checkpoint_interval = "200ms"
input = { subjects = ["in.t"], component = "event" }
output = { subject = "out.t" }
delivery = { ack_wait = "2s", nak_delay = "100ms" }

[[pipeline.component]]
name = "event"
fields = ["k: string", "v: int64"]

[[pipeline.component]]
name = "running"
fields = ["total: int64"]

[[pipeline.system]]
use = "totals"
options = { component = "event", keys = ["k"], value = "v", into = "running", out = "total" }
`

// TestCheckpointChild is the node process of TestCheckpointSurvivesSIGKILL.
func TestCheckpointChild(t *testing.T) { runChildNode(t, totalsTOML) }

// TestCheckpointSurvivesSIGKILL runs a stateful pipeline (running totals)
// in a child process with a catalog, kills it with SIGKILL while it holds
// processed-but-unacked partitions, restarts it, and checks the final
// checkpointed state against the sums over the input: every partition
// counted exactly once (the restored state plus the redelivered
// partitions), none lost, none twice.
func TestCheckpointSurvivesSIGKILL(t *testing.T) { checkpointSurvivesSIGKILL(t, "TestCheckpointChild") }

// The same pipeline with its totals in the Pebble state backend (issue 18):
// the store is emptied when the node starts and the state comes back from
// the checkpoint, as in memory; checkpoints store the store's files
// incrementally (pcs.StatefulFiles, node/ckptfiles.go).
var totalsPebbleTOML = strings.Replace(totalsTOML, `checkpoint_interval = "200ms"`,
	`checkpoint_interval = "200ms"
state = { backend = "pebble", dir = "${PCS_TEST_STATE}", cache = "8MiB" }`, 1)

// TestCheckpointPebbleChild is the node process of
// TestCheckpointPebbleSurvivesSIGKILL.
func TestCheckpointPebbleChild(t *testing.T) { runChildNode(t, totalsPebbleTOML) }

// TestCheckpointPebbleSurvivesSIGKILL is TestCheckpointSurvivesSIGKILL
// with the totals kept in Pebble on disk.
func TestCheckpointPebbleSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	checkpointSurvivesSIGKILL(t, "TestCheckpointPebbleChild", "PCS_TEST_STATE="+dir)
	var files int
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Error("the node kept no state in its Pebble directory")
	}
}

// checkpointSurvivesSIGKILL runs the checkpoint test with the node process
// of child test childTest (env added to its environment).
func checkpointSurvivesSIGKILL(t *testing.T, childTest string, env ...string) {
	if testing.Short() {
		t.Skip("runs node processes")
	}
	b, js := listeningBroker(t)
	dir := t.TempDir()
	child := func() (*exec.Cmd, *syncBuffer) {
		return startChild(t, childTest, append([]string{"PCS_TEST_URL=" + b.ClientURL(), "PCS_TEST_DIR=" + dir}, env...)...)
	}
	want := map[string]int64{}
	seq := uint64(1)
	publish := func(parts int) {
		pub, err := natsjs.NewPublisher(js, "in.t", natsjs.WithSourceID("src"), natsjs.WithStartSeq(seq))
		if err != nil {
			t.Fatal(err)
		}
		schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
		for p := 0; p < parts; p++ {
			rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			for i := 0; i < 200; i++ {
				k, v := fmt.Sprintf("k%d", (int(seq)*7+i)%13), int64(seq)*1000+int64(i)
				rb.Field(0).(*array.StringBuilder).Append(k)
				rb.Field(1).(*array.Int64Builder).Append(v)
				want[k] += v
			}
			rec := rb.NewRecordBatch()
			rb.Release()
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
	consumer := func() *jetstream.ConsumerInfo {
		cons, err := js.Consumer(context.Background(), "PCS_T_IN", "t")
		if err != nil {
			return nil
		}
		info, err := cons.Info(context.Background())
		if err != nil {
			return nil
		}
		return info
	}
	wait := func(what string, cond func(*jetstream.ConsumerInfo) bool, log *syncBuffer) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if info := consumer(); info != nil && cond(info) {
				return
			}
		}
		t.Fatalf("timed out waiting for %s; node log:\n%s", what, log.String())
	}

	// Run 1: 10 partitions processed and checkpointed (all acked).
	cmd, log := child()
	wait("the node to provision its streams", func(*jetstream.ConsumerInfo) bool { return true }, log)
	publish(10)
	wait("run 1 to ack everything", func(i *jetstream.ConsumerInfo) bool { return i.NumPending == 0 && i.NumAckPending == 0 }, log)
	// 10 more; kill the node while it holds some of them unacked.
	publish(10)
	wait("partitions in flight", func(i *jetstream.ConsumerInfo) bool { return i.NumPending == 0 && i.NumAckPending > 0 }, log)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killedWith := consumer().NumAckPending

	// Run 2: restore, take the redeliveries, drain, final checkpoint.
	cmd, log = child()
	wait("run 2 to ack everything", func(i *jetstream.ConsumerInfo) bool { return i.NumPending == 0 && i.NumAckPending == 0 }, log)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node exit: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "state restored") {
		t.Errorf("run 2 did not restore a checkpoint:\n%s", log.String())
	}

	// The last checkpoint object holds the totals.
	obs, err := js.ObjectStore(context.Background(), CheckpointBucket)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := obs.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var objects []string // checkpoint objects (not the files of a manifest)
	for _, o := range infos {
		if !strings.Contains(o.Name, "/files/") {
			objects = append(objects, o.Name)
		}
	}
	if len(objects) != 1 {
		t.Fatalf("checkpoint objects %v, want 1 (older ones deleted)", objects)
	}
	data, err := obs.GetBytes(context.Background(), objects[0])
	if err != nil {
		t.Fatal(err)
	}
	h, states, err := parseCheckpoint(data)
	if err != nil {
		t.Fatal(err)
	}
	comp := pcs.NewDynamicComponent("event", arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "total", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil))
	var sys pcs.System
	if h.Systems[0].Files { // the Pebble backend: a manifest of its files
		part, err := decodePart(states[0])
		if err != nil {
			t.Fatal(err)
		}
		dir, err := newFileStore(obs, "t", "s1", "totals").fetch(context.Background(), part)
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		be, err := pebblestate.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if sys, err = ops.RunningTotalsWith("totals", comp, []string{"k"}, "v", nil, "total", ops.TotalsOptions{State: be}); err != nil {
			t.Fatal(err)
		}
		defer sys.(io.Closer).Close()
		if err := sys.(pcs.StatefulFiles).RestoreFiles(part.Head, dir); err != nil {
			t.Fatal(err)
		}
	} else {
		ds, err := pcs.ReadIPC(states[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ds.Release()
		if sys, err = ops.RunningTotals("totals", comp, []string{"k"}, "v", nil, "total"); err != nil {
			t.Fatal(err)
		}
		if err := sys.(pcs.Stateful).Restore(ds); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := ops.Totals(sys)
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != float64(v) {
			t.Errorf("total of %s = %v, want %d (killed with %d partitions unacked)", k, got[k], v, killedWith)
		}
	}
	t.Logf("killed with %d partitions in flight; totals of %d keys exact after restore (checkpoint of files: %v)", killedWith, len(want), h.Systems[0].Files)
}
