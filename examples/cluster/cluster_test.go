package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestCluster runs `make demo-cluster` on the 50k slice: three nats-server
// processes (R3, TLS, a user per client), three pcs-node (Raft over
// mutual TLS); the input stream's leader server and one node are killed
// with SIGKILL mid-run and restarted; every row id must reach the sink
// exactly once, the catalog must equal the sink, and no secret may appear
// in a log or a status.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs a cluster of processes")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/pcs", "./cmd/pcs-node", "github.com/nats-io/nats-server/v2")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	td := filepath.Join(repo, "examples", "flights", "testdata")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	res, err := run(ctx, options{repo: repo, bin: bin, flights: filepath.Join(td, "flights-50k.parquet"), airports: filepath.Join(td, "airports.csv"),
		batchRows: 250}, &out)
	t.Logf("run took %v:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 50000 || res.Partitions != 200 || res.SinkRows != 50000 || res.CatalogDone != 200 || res.CatalogRows != 50000 {
		t.Errorf("rows %d, partitions %d, sink rows %d, catalog %d partitions %d rows", res.Rows, res.Partitions, res.SinkRows, res.CatalogDone, res.CatalogRows)
	}
	if res.Lost != 0 || res.Duplicates != 0 || res.Unexpected != 0 || len(res.Leaks) != 0 {
		t.Errorf("lost %d, duplicates %d, unexpected %d, leaks %v", res.Lost, res.Duplicates, res.Unexpected, res.Leaks)
	}
	if !regexp.MustCompile(`^nats-[123]$`).MatchString(res.KilledServer) || res.KilledNode == "" {
		t.Errorf("killed server %q, node %q", res.KilledServer, res.KilledNode)
	}
	for _, re := range []string{
		`(?m)^kill: +SIGKILL nats-[123] \(the input stream's leader\) at \d+ of 200 partitions done`,
		`(?m)^kill: +SIGKILL pcs-node n2 at \d+ of 200 partitions done`,
		`(?m)^restart: +pcs-node n2 ready again in `,
		`(?m)^processed: .* longest stall `,
		`(?m)^ +the publisher and the sink reader may neither publish nor subscribe to pcs.catalog.>$`,
		`(?m)^verified: +0 lost, 0 duplicates`,
	} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("output lacks %s", re)
		}
	}
}
