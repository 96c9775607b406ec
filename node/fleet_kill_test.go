package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/window"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// The fleet window of TestFleetWindowSIGKILL, one node per child process.
// The killed node's unacked partitions come back after ack_wait, behind
// up to ~30 later partitions (30 s of event time here): the
// out-of-orderness bound must cover that, or their rows are late (to
// <pipeline>.late, counted) and the results differ from one operator's.
const fleetWindowTOML = `
[node]
id = "${PCS_TEST_ID}"
http = "${PCS_TEST_HTTP}"
drain_timeout = "2s"
[broker]
url = "${PCS_TEST_URL}"
[catalog]
dir = "${PCS_TEST_DIR}"
bind = "127.0.0.1:0"
bootstrap = ${PCS_TEST_BOOTSTRAP}
election_timeout = "300ms"
heartbeat_interval = "200ms"
dead_node_timeout = "2s"
[[pipeline]]
name = "fw"
checkpoint_interval = "100ms"
input = { subjects = ["in.fw"], component = "reading" }
output = { subject = "out.fw" }
delivery = { ack_wait = "2s" }
[[pipeline.component]]
name = "reading"
fields = ["ts: int64", "k: string", "v: int64"]
[[pipeline.system]]
use = "window"
options = { time = "ts", window = "tumbling(2s)", keys = ["k"], aggregates = ["sum(v) as total"], out_of_orderness = "1h", shards = 3 }
`

// TestFleetWindowChild is one node of TestFleetWindowSIGKILL.
func TestFleetWindowChild(t *testing.T) { runChildNode(t, fleetWindowTOML) }

// TestFleetWindowSIGKILL: three node processes aggregate a fleet window;
// the owner of shard 0 is killed with SIGKILL mid-stream. The leader
// hands its shards to the survivors once its heartbeats stop, they
// restore the checkpoints and replay; the results equal one operator's
// over every row, none missing, none twice.
func TestFleetWindowSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node processes")
	}
	b, js := listeningBroker(t)
	ctx := context.Background()
	type child struct {
		id, http string
		cmd      *exec.Cmd
		log      *syncBuffer
	}
	start := func(i int) *child {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := &child{id: fmt.Sprintf("n%d", i+1), http: addr}
		c.cmd, c.log = startChild(t, "TestFleetWindowChild", "PCS_TEST_URL="+b.ClientURL(), "PCS_TEST_ID="+c.id,
			"PCS_TEST_HTTP="+addr, "PCS_TEST_DIR="+t.TempDir(), fmt.Sprintf("PCS_TEST_BOOTSTRAP=%v", i == 0))
		return c
	}
	status := func(c *child) (Status, error) {
		resp, err := http.Get("http://" + c.http + "/v1/status")
		if err != nil {
			return Status{}, err
		}
		defer resp.Body.Close()
		var st Status
		return st, json.NewDecoder(resp.Body).Decode(&st)
	}
	waitUntil := func(what string, cond func() bool, logs ...*child) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cond() {
				return
			}
		}
		for _, c := range logs {
			t.Logf("%s log:\n%s", c.id, c.log.String())
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	var nodes []*child
	for i := 0; i < 3; i++ {
		nodes = append(nodes, start(i))
		c := nodes[i]
		waitUntil(c.id+" to be up", func() bool {
			st, err := status(c)
			return err == nil && st.Catalog != nil && st.Catalog.Leader != ""
		}, c)
	}

	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.PrimitiveTypes.Int64}, {Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	op, err := window.New(window.Spec{Time: window.TimeSpec{Column: "ts"}, Assigner: window.Tumbling(2*time.Second, 0),
		OutOfOrderness: time.Hour, Keys: []string{"k"}, Aggs: []window.Agg{{Func: "sum", Column: "v", As: "total"}}}, schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, got := map[string]int64{}, map[string]int64{}
	add := func(m map[string]int64, rec arrow.RecordBatch) (rows int) {
		if rec == nil {
			return 0
		}
		k, s, v := rec.Column(0).(*array.String), rec.Column(1).(*array.Timestamp), rec.Column(3).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			m[fmt.Sprintf("%s@%d", k.Value(i), s.Value(i))] = v.Value(i)
		}
		return int(rec.NumRows())
	}
	pub, err := natsjs.NewPublisher(js, "in.fw", natsjs.WithSourceID("src"))
	if err != nil {
		t.Fatal(err)
	}
	const parts = 40
	send := func(i int) {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for r := 0; r < 50; r++ {
			rb.Field(0).(*array.Int64Builder).Append(int64(i*1000 + r*20))
			rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("k%d", (i+r)%7))
			rb.Field(2).(*array.Int64Builder).Append(int64(i*100 + r))
		}
		rec := rb.NewRecordBatch()
		rb.Release()
		defer rec.Release()
		out, err := op.Process(ctx, "src", rec)
		if err != nil {
			t.Fatal(err)
		}
		add(want, out.Results)
		out.Release()
		meta := natsjs.Meta{ID: natsjs.PartitionID("src", uint64(i+1))}
		if i == parts-1 {
			meta.Watermark = natsjs.EndOfInput
		}
		pending, err := pub.PublishAsync(ctx, []arrow.RecordBatch{rec}, meta)
		if err == nil {
			_, err = pending.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < parts/2; i++ {
		send(i)
	}
	// Kill the owner of shard 0 once it checkpointed.
	var victim *child
	waitUntil("a shard checkpoint", func() bool {
		st, err := status(nodes[0])
		if err != nil || st.Catalog == nil {
			return false
		}
		ps, ok := st.Catalog.Pipeline("fw.window")
		if !ok || len(ps.Checkpoints) == 0 {
			return false
		}
		if own, ok := st.Catalog.Pipeline("fw"); ok {
			for _, a := range own.Shards {
				for _, c := range nodes {
					if a.Shard == 0 && a.Node == c.id {
						victim = c
					}
				}
			}
		}
		return victim != nil
	}, nodes...)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = victim.cmd.Wait()
	for i := parts / 2; i < parts; i++ {
		send(i)
	}
	out, err := op.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add(want, out.Results)
	out.Release()

	stream, err := js.Stream(ctx, "PCS_FW_OUT")
	if err != nil {
		t.Fatal(err)
	}
	read, rows := uint64(0), 0
	var survivors []*child
	for _, c := range nodes {
		if c != victim {
			survivors = append(survivors, c)
		}
	}
	waitUntil("every window", func() bool {
		info, err := stream.Info(ctx)
		if err != nil {
			return false
		}
		for read < info.State.LastSeq {
			read++
			raw, err := stream.GetMsg(ctx, read)
			if err != nil {
				t.Fatal(err)
			}
			if raw.Header.Get(natsjs.HeaderFence) != "" {
				continue // a result's fence
			}
			recs, err := natsjs.Decode(raw.Data, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				rows += add(got, rec)
				rec.Release()
			}
		}
		return len(got) >= len(want)
	}, survivors...)
	if rows != len(got) {
		t.Errorf("%d result rows for %d window/keys: duplicates", rows, len(got))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d window/keys, want %d", len(got), len(want))
	}
	t.Logf("killed %s (owner of shard 0); %d window/keys exact, no duplicates", victim.id, len(want))
}
