package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
)

// runNode starts a pcs-node in-process on the broker at url with one
// pipeline "p" (in.p -> out.p, component row of fields) and no catalog;
// stop ends it (also at cleanup).
func runNode(t *testing.T, url string, fields string) (stop func()) {
	t.Helper()
	src := fmt.Sprintf(`
[node]
id = "c1"
http = "127.0.0.1:0"
drain_timeout = "5s"

[broker]
url = %q

[[pipeline]]
name = "p"
input = { subjects = ["in.p"], component = "row" }
output = { subject = "out.p" }
component = [{ name = "row", fields = [%s] }]
system = [{ use = "filter", options = { component = "row", expression = "id >= 0" } }]
delivery = { max_deliver = 2, ack_wait = "2s" }
`, url, fields)
	cfg, err := node.ParseConfig("consume.toml", []byte(src))
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
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := n.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitMsgs waits until stream name holds want messages.
func waitMsgs(t *testing.T, tb *testBroker, name string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for tb.msgs(t, name) != want {
		if time.Now().After(deadline) {
			t.Fatalf("stream %s holds %d messages, want %d", name, tb.msgs(t, name), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsumeWhatPCSProvisions runs pcs consume against the streams a
// pcs-node provisions: the sink (limits retention) keeps every output
// until read, several services read it each through their own durable
// consumer and each gets every partition; the work-queue input stream,
// a wildcard over several streams and the dead-letter subject are
// refused in one line that says what to do.
func TestConsumeWhatPCSProvisions(t *testing.T) {
	tb := startBroker(t)
	runNode(t, tb.url, `"id: int64", "price: float64"`)
	dir := t.TempDir()
	recs := makeRecords(t, 1000, 1000)
	mustPCS(t, "publish", "--server", tb.url, "-s", "in.p", "--batch-rows", "250", "-q", writeParquet(t, dir, "a.parquet", recs))
	// No consumer reads out.p yet: the outputs wait in the sink.
	waitMsgs(t, tb, "PCS_P_OUT", 4)

	consume := func(durable, out string) (int64, int64) {
		t.Helper()
		r := mustPCS(t, "consume", "--server", tb.url, "-s", "out.p", "--durable", durable, "-q", "-o", filepath.Join(dir, out))
		return parseSummary(t, r.stdout)
	}
	for _, c := range []struct{ durable, out string }{{"billing", "billing.parquet"}, {"archive", "archive.csv"}, {"search", "search.jsonl"}} {
		if parts, rows := consume(c.durable, c.out); parts != 4 || rows != 1000 {
			t.Fatalf("service %s: %d partitions, %d rows; want 4, 1000", c.durable, parts, rows)
		}
	}
	if got := numRows(readFile(t, filepath.Join(dir, "billing.parquet"))); got != 1000 {
		t.Fatalf("billing.parquet: %d rows", got)
	}
	// New outputs reach every service once more; what each read is not
	// read again.
	mustPCS(t, "publish", "--server", tb.url, "-s", "in.p", "--source-id", "second", "-q", writeParquet(t, dir, "b.parquet", makeRecords(t, 300, 300)))
	waitMsgs(t, tb, "PCS_P_OUT", 5)
	for _, d := range []string{"billing", "archive"} {
		if parts, rows := consume(d, d+"-2.arrow"); parts != 1 || rows != 300 {
			t.Fatalf("service %s, second run: %d partitions, %d rows; want 1, 300", d, parts, rows)
		}
	}

	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"ordered read of the input work queue", []string{"-s", "in.p"}, 1, []string{"PCS_P_IN", "work queue", "output subject"}},
		{"durable on the input work queue", []string{"-s", "in.p", "--durable", "x"}, 1, []string{"PCS_P_IN", "work queue", "output subject"}},
		{"wildcard over two streams", []string{"-s", "*.p"}, 1, []string{"PCS_P_IN", "PCS_P_OUT", "one stream"}},
		{"dead-letter subject", []string{"-s", "p.dlq"}, 2, []string{"pcs dlq list --pipeline p"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pcs(context.Background(), append([]string{"consume", "--server", tb.url}, c.args...)...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d: %v", r.code, c.code, r)
			}
			oneErrorLine(t, r, c.want...)
			if strings.Contains(r.stderr, "10084") || strings.Contains(r.stderr, "10100") {
				t.Errorf("raw API error: %s", r.stderr)
			}
		})
	}
}
