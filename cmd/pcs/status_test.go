package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/plan"
)

// startNode starts a pcs-node in-process on the broker at url, with a
// one-node catalog and one pipeline "p" (in.p -> out.p; columns id, price
// and rid), and returns its control-plane address.
func startNode(t *testing.T, url string) (*node.Node, string) {
	t.Helper()
	src := fmt.Sprintf(`
[node]
id = "st1"
http = "127.0.0.1:0"
drain_timeout = "5s"

[broker]
url = %q

[catalog]
dir = %q
bind = "127.0.0.1:0"
bootstrap = true
heartbeat_interval = "100ms"
election_timeout = "300ms"

[[pipeline]]
name = "p"
input = { subjects = ["in.p"], component = "row" }
output = { subject = "out.p" }
component = [{ name = "row", fields = ["id: int64", "price: float64", "rid: int64"] }]
system = [{ use = "filter", options = { component = "row", expression = "price >= 0" } }]
`, url, filepath.Join(t.TempDir(), "catalog"))
	cfg, err := node.ParseConfig("status.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(context.Background(), cfg, plan.DefaultRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := n.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return n, n.HTTPAddr()
}

// TestStatusNode asks a real node (in-process, with a catalog) for its
// status after it processed 4 partitions published with --row-id.
func TestStatusNode(t *testing.T) {
	tb := startBroker(t)
	n, addr := startNode(t, tb.url)
	path := writeParquet(t, t.TempDir(), "rows.parquet", makeRecords(t, 1000, 300))
	mustPCS(t, "publish", "--server", tb.url, "-s", "in.p", "--batch-rows", "250", "--row-id", "rid", "-q", path)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := n.Status(context.Background())
		if ps, ok := st.Catalog.Pipeline("p"); ok && ps.Counters.Done == 4 && st.Pipelines[0].InFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not processed: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	r := mustPCS(t, "status", "--url", addr) // no scheme: http:// assumed
	for _, re := range []string{
		`(?m)^node: +st1 \(status at \d{4}-\d\d-\d\dT`,
		`(?m)^leader: +st1 \(127\.0\.0\.1:\d+\), term \d+; this node is leader, applied \d+ of \d+$`,
		`(?m)^voters: +st1$`,
		`(?m)^non-voters: +-$`,
		`(?m)^NODE +RAFT +RAFT ADDR +HTTP +LAST HEARTBEAT +JOINED$`,
		// The HTTP column is the configured address (node/fleet.go passes
		// [node] http, here port 0, not the bound one).
		`(?m)^st1 +voter, leader +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +\d+(\.\d+)?m?s ago +\d{4}-`,
		`(?m)^PIPELINE +DONE +FAILED +DEAD-LETTERED +DLQ +ROWS +BYTES +IN FLIGHT +PENDING +REDELIVERED$`,
		`(?m)^p +4 +0 +0 +0 +1,000 +\d+(\.\d)? KiB +0 +0 +0$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("status lacks %s:\n%s", re, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}

	r = mustPCS(t, "status", "--url", "http://"+addr+"/", "--json")
	var st node.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	ps, _ := st.Catalog.Pipeline("p")
	if st.Node != "st1" || st.Catalog.Leader != "st1" || ps.Counters.Done != 4 || ps.Counters.Rows != 1000 || len(st.Pipelines) != 1 {
		t.Errorf("--json: %+v", st)
	}

	// The sink carries the row ids 0..999 once each, in partition order.
	out := filepath.Join(t.TempDir(), "out.arrow")
	mustPCS(t, "consume", "--server", tb.url, "-s", "out.p", "-o", out)
	seen := map[int64]int{}
	for _, rec := range readFile(t, out) {
		ids := rec.Column(rec.Schema().FieldIndices("rid")[0]).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			seen[ids.Value(i)]++
		}
	}
	for id := int64(0); id < 1000; id++ {
		if seen[id] != 1 {
			t.Fatalf("row id %d seen %d times", id, seen[id])
		}
	}
}

// serve answers /v1/status with body (and status code).
func serve(t *testing.T, code int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestStatusRender prints a status with everything in it: non-voters, a
// node that left, a lost heartbeat, watermarks, checkpoints and shards, a
// pipeline paused and one whose consumer counts failed, one only in the
// catalog.
func TestStatusRender(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	wm := now.Add(-time.Hour).UnixMilli()
	st := node.Status{
		Node: "n2", Time: now,
		Pipelines: []node.PipelineStatus{
			{Name: "flights", InFlight: 3, Pending: 12345, Redelivered: 1, Paused: true,
				DeadLetters: node.DeadLetters{Stream: "PCS_FLIGHTS_DLQ", Messages: 1}},
			{Name: "hourly", Error: "consumer not found"},
		},
		Catalog: &catalog.Status{
			NodeID: "n2", State: "Follower", Leader: "n1", LeaderAddr: "10.0.0.1:7400", Term: 7, LastIndex: 120, AppliedIndex: 119,
			Servers: []catalog.Server{{ID: "n3", Suffrage: "Voter"}, {ID: "n1", Suffrage: "Voter"}, {ID: "n2", Suffrage: "Voter"}, {ID: "n4", Suffrage: "Nonvoter"}},
			Nodes: []catalog.NodeStatus{
				{NodeInfo: catalog.NodeInfo{ID: "n1", RaftAddr: "10.0.0.1:7400", HTTPAddr: "10.0.0.1:9464"}, Joined: now.Add(-time.Hour), LastHeartbeat: now.Add(-300 * time.Millisecond)},
				{NodeInfo: catalog.NodeInfo{ID: "n2", RaftAddr: "10.0.0.2:7400"}, Joined: now.Add(-time.Hour), LastHeartbeat: now.Add(-1500 * time.Millisecond)},
				{NodeInfo: catalog.NodeInfo{ID: "n4"}, LastHeartbeat: now.Add(-95 * time.Second)},
				{NodeInfo: catalog.NodeInfo{ID: "n5"}},
			},
			Pipelines: []catalog.PipelineStatus{
				{Name: "flights", Counters: catalog.Counters{Done: 1840, Failed: 2, DeadLettered: 1, Rows: 30_000_000, Bytes: 1 << 30}},
				{Name: "old", Counters: catalog.Counters{Done: 5, Rows: 50}},
				{Name: "hourly", Counters: catalog.Counters{Done: 7, Rows: 700},
					Watermark: wm, Watermarks: map[string]int64{"b": wm + 1000, "a": wm},
					Checkpoints: []catalog.Checkpoint{{Pipeline: "hourly", Shard: 1, Object: catalog.ObjectRef{Bucket: "pcs-objects", Name: "ckpt/hourly/1/9"}, Covers: 9, Watermark: wm, Time: now}},
					Shards:      []catalog.ShardAssignment{{Pipeline: "hourly", Shard: 0, Node: "n1", Epoch: 3}, {Pipeline: "hourly", Shard: 1, Node: "n3", Epoch: 4}}},
			},
		},
	}
	body, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, http.StatusOK, string(body))
	r := mustPCS(t, "status", "--url", url)
	want := `node:        n2 (status at 2026-11-21T12:00:00Z)
leader:      n1 (10.0.0.1:7400), term 7; this node is follower, applied 119 of 120
voters:      n1, n2, n3
non-voters:  n4

NODE  RAFT           RAFT ADDR      HTTP           LAST HEARTBEAT  JOINED
n1    voter, leader  10.0.0.1:7400  10.0.0.1:9464  300ms ago       2026-11-21T11:00:00Z
n2    voter          10.0.0.2:7400  -              1.5s ago        2026-11-21T11:00:00Z
n4    nonvoter       -              -              1m35s ago       -
n5    not a member   -              -              never           -

PIPELINE  DONE   FAILED  DEAD-LETTERED  DLQ  ROWS        BYTES    IN FLIGHT  PENDING  REDELIVERED
flights   1,840  2       1              1    30,000,000  1.0 GiB  3          12,345   1
hourly    7      0       0              -    700         0 B      -          -        -
old       5      0       0              -    50          0 B      -          -        -
  note: flights: fetching paused on this node (output stream above its high-water mark)
  note: hourly: consumer counts unavailable: consumer not found
  note: old: in the catalog, not run by this node
  note: done, failed, dead-lettered, rows and bytes are the fleet's (the catalog's); DLQ is the dead-letter stream's messages

watermarks of hourly: effective 2026-11-21T11:00:00.000Z
  a  2026-11-21T11:00:00.000Z
  b  2026-11-21T11:00:01.000Z

shards of hourly:
  SHARD  OWNER  EPOCH  CHECKPOINT                   COVERS  WATERMARK                 TAKEN
  0      n1     3      -                            -       -                         -
  1      n3     4      pcs-objects/ckpt/hourly/1/9  9       2026-11-21T11:00:00.000Z  2026-11-21T12:00:00Z
`
	if r.stdout != want {
		t.Errorf("status:\n%s\nwant:\n%s", r.stdout, want)
	}

	// --json passes the node's JSON through.
	r = mustPCS(t, "status", "--url", url, "--json")
	if strings.TrimSpace(r.stdout) != string(body) {
		t.Errorf("--json: %s", r.stdout)
	}

	// Without a catalog: the node's own counters.
	body, _ = json.Marshal(node.Status{Node: "solo", Time: now, Pipelines: []node.PipelineStatus{{Name: "p", Pending: 4,
		Counters:    node.Counters{Processed: 12, Failed: 3, DeadLettered: 2, RowsIn: 48_000, BytesIn: 3 << 20},
		DeadLetters: node.DeadLetters{Stream: "PCS_P_DLQ", Messages: 2}}}})
	r = mustPCS(t, "status", "--url", serve(t, http.StatusOK, string(body)))
	for _, line := range []string{
		"catalog:     none (the node runs without [catalog]: at-least-once, no fleet state)\n",
		"\np         12    3       2              2    48,000  3.0 MiB  0          4        0\n",
		"  note: no [catalog]: done, failed, dead-lettered, rows and bytes are this node's own counters (rows and bytes in)\n",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("no catalog: output lacks %q:\n%s", line, r.stdout)
		}
	}
}

// TestStatusWatch redraws the status in place until the context ends.
func TestStatusWatch(t *testing.T) {
	body, _ := json.Marshal(node.Status{Node: "solo", Time: time.Now(), Pipelines: []node.PipelineStatus{{Name: "p"}}})
	url := serve(t, http.StatusOK, string(body))
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	r := pcs(ctx, "status", "--url", url, "--watch", "--interval", "200ms")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("--watch: %s", r)
	}
	frames := strings.Split(r.stdout, clearScreen)
	if len(frames) < 3 || frames[0] != "" {
		t.Fatalf("--watch drew %d frames, want at least 2 each after a clear:\n%q", len(frames)-1, r.stdout)
	}
	for _, f := range frames[1:] {
		if !strings.HasPrefix(f, "node:        solo") || !strings.HasSuffix(f, "\nevery 200ms; Ctrl-C to stop\n") {
			t.Errorf("frame %q", f)
		}
	}
	if r := pcs(context.Background(), "status", "--url", url, "--watch", "--interval", "0s"); r.code != 2 {
		t.Errorf("--interval 0s: %s", r)
	}
}

func TestStatusErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	ctx := context.Background()
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unreachable", []string{"--url", closed}, 1, []string{"cannot reach pcs-node at http://" + closed + "/v1/status", "refused"}},
		{"not found", []string{"--url", serve(t, http.StatusOK, "{}") + "/prefix"}, 1, []string{"404 Not Found", "[node] http address"}},
		{"server error", []string{"--url", serve(t, http.StatusInternalServerError, "boom\n")}, 1, []string{"500 Internal Server Error: boom"}},
		{"not JSON", []string{"--url", serve(t, http.StatusOK, "<html>")}, 1, []string{"not a pcs-node status"}},
		{"not JSON, --json", []string{"--json", "--url", serve(t, http.StatusOK, "<html>")}, 1, []string{"did not answer JSON"}},
		{"bad scheme", []string{"--url", "ftp://x:1"}, 2, []string{`--url "ftp://x:1"`}},
		{"empty url", []string{"--url", ""}, 2, []string{"--url is empty"}},
		{"argument", []string{"n1"}, 2, []string{`status takes no arguments, got "n1"`}},
		{"bad timeout", []string{"--timeout", "0s"}, 2, []string{"--timeout must be positive"}},
		{"unknown flag", []string{"--jsno"}, 2, []string{"unknown flag: --jsno"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pcs(ctx, append([]string{"status"}, c.args...)...)
			if r.code != c.code || r.stdout != "" {
				t.Fatalf("want exit %d and no stdout: %v", c.code, r)
			}
			oneErrorLine(t, r, c.want...)
		})
	}
}
