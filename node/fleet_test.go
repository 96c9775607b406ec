package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// fleetConfig is node i of a fleet on the broker at url, with a catalog
// (node 0 bootstraps).
func fleetConfig(t *testing.T, url string, i int) node.Config {
	cfg := testConfig(t, url)
	cfg.Node.ID = fmt.Sprintf("n%d", i+1)
	cfg.Catalog = node.CatalogConfig{Dir: t.TempDir(), Bind: "127.0.0.1:0", Bootstrap: i == 0,
		HeartbeatInterval: plan.Duration(200 * time.Millisecond), DeadNodeTimeout: plan.Duration(10 * time.Second),
		ElectionTimeout: plan.Duration(300 * time.Millisecond)}
	cfg.SetDefaults()
	return cfg
}

// startFleet starts an in-process fleet of n nodes, node i configured by
// config(i) (node 0 bootstraps the catalog; fleetConfig), and waits until
// every node's catalog knows all n members. Nodes stop when the test ends.
func startFleet(t *testing.T, n int, config func(i int) node.Config, reg *plan.Registry) []*running {
	t.Helper()
	var nodes []*running
	for i := range n {
		nodes = append(nodes, startNode(t, config(i), reg))
	}
	waitFor(t, func() bool {
		for _, r := range nodes {
			if len(r.Catalog().Status().Servers) != n {
				return false
			}
		}
		return true
	})
	return nodes
}

// TestFleetCatalog runs three nodes with a Raft catalog on one broker:
// every row is processed exactly once across the fleet, every node's
// catalog counts the partitions, a partition the catalog already has as
// done is acked without being processed, and /v1/status shows it all.
func TestFleetCatalog(t *testing.T) {
	b := standalone(t)
	nodes := startFleet(t, 3, func(i int) node.Config { return fleetConfig(t, b.ClientURL(), i) }, registry(nil))
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := jsOf(t, nc)

	// Partition src/3 (the third: sequences start at 1) is recorded as
	// done before it is published: the fleet must ack it without output.
	ctx := context.Background()
	if err := nodes[1].Catalog().RecordPartitions(ctx, catalog.PartitionRecord{Pipeline: "p", ID: natsjs.PartitionID("src", 3),
		Status: catalog.StatusDone, Rows: 100, Node: "earlier", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Followers apply it a moment after the leader committed it.
	waitFor(t, func() bool {
		for _, n := range nodes {
			if !n.Catalog().IsDone("p", natsjs.PartitionID("src", 3)) {
				return false
			}
		}
		return true
	})
	mem := memory.NewGoAllocator()
	const parts, per = 30, 100
	var recs []arrow.RecordBatch
	for k := 0; k < parts; k++ {
		recs = append(recs, rows(mem, k*per, per, func(i int) float64 { return float64(i) }))
	}
	publish(t, js, "src", recs...)
	out := collect(t, js, "PCS_P_OUT", (parts-1)*per)
	ids := map[int64]int{}
	for _, r := range out {
		ids[r.id]++
	}
	for i := int64(0); i < parts*per; i++ {
		want := 1
		if i/per == 2 {
			want = 0
		}
		if ids[i] != want {
			t.Fatalf("row %d seen %d times, want %d", i, ids[i], want)
		}
	}
	// Every node's copy of the catalog converges: 30 partitions done,
	// 3000 rows (src/3's 100 recorded by "earlier").
	waitFor(t, func() bool {
		for _, n := range nodes {
			ps, ok := n.Catalog().Status().Pipeline("p")
			if !ok || ps.Counters.Done != parts || ps.Counters.Rows != parts*per {
				return false
			}
		}
		return true
	})
	// Identical states: heartbeats keep changing them, so compare until
	// all three have applied the same entries.
	waitFor(t, func() bool {
		hashes := map[uint64]bool{}
		for _, n := range nodes {
			hashes[n.Catalog().Hash()] = true
		}
		return len(hashes) == 1
	})
	skipped := 0
	for _, n := range nodes {
		m := scrape(t, n.HTTPAddr())
		if strings.Contains(m, `pcs_partitions_skipped_done_total{pipeline="p"} 1`) {
			skipped++
		}
	}
	if skipped != 1 {
		t.Errorf("%d nodes report the skipped partition, want 1", skipped)
	}

	resp, err := http.Get("http://" + nodes[2].HTTPAddr() + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st node.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Node != "n3" || st.Catalog == nil || st.Catalog.Leader == "" || len(st.Catalog.Voters()) != 3 || len(st.Catalog.Nodes) != 3 {
		t.Fatalf("status %+v", st)
	}
	if len(st.Pipelines) != 1 || st.Pipelines[0].InFlight != 0 || st.Pipelines[0].Pending != 0 {
		t.Errorf("pipelines %+v", st.Pipelines)
	}
	for _, n := range nodes { // the node table has the bound HTTP addresses (the config says port 0)
		ns, ok := st.Catalog.Node(n.Status(ctx).Node)
		if !ok || ns.HTTPAddr != n.HTTPAddr() {
			t.Errorf("node table entry %+v, want http %s", ns, n.HTTPAddr())
		}
	}
	if ps, _ := st.Catalog.Pipeline("p"); ps.Counters.Done != parts {
		t.Errorf("catalog pipeline %+v", ps)
	}
}

// TestForgedCatalogCommands: the fault campaign's attack on a fleet with a
// fleet key: a NATS client with broker access but no key sends
// partition_done for partitions before they are published. The catalog
// rejects every forged command (counted in
// pcs_catalog_rejected_requests_total), so the fleet processes every
// partition: nothing is acked unprocessed.
func TestForgedCatalogCommands(t *testing.T) {
	b := standalone(t)
	keyFile := filepath.Join(t.TempDir(), "fleet.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("0123456789abcdef", 4)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := startFleet(t, 3, func(i int) node.Config {
		cfg := fleetConfig(t, b.ClientURL(), i)
		cfg.Catalog.KeyFile = keyFile
		return cfg
	}, registry(nil))
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const parts, per = 10, 100
	for k := 1; k <= parts; k++ {
		cmd := catalog.NewPartitionDone(catalog.PartitionRecord{Pipeline: "p", ID: natsjs.PartitionID("src", uint64(k)),
			Status: catalog.StatusDone, Rows: per, Node: "mallory", Time: time.Now()})
		forged, err := json.Marshal(map[string]any{"op": "apply", "commands": []catalog.Command{cmd}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Request("pcs.catalog.pcs._any", forged, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		if n.Catalog().IsDone("p", natsjs.PartitionID("src", 1)) {
			t.Fatal("a forged partition_done was applied")
		}
	}
	js := jsOf(t, nc)
	mem := memory.NewGoAllocator()
	var recs []arrow.RecordBatch
	for k := 0; k < parts; k++ {
		recs = append(recs, rows(mem, k*per, per, func(i int) float64 { return float64(i) }))
	}
	publish(t, js, "src", recs...)
	if out := collect(t, js, "PCS_P_OUT", parts*per); len(out) != parts*per {
		t.Fatalf("%d rows out, want %d", len(out), parts*per)
	}
	rejected := 0.0
	for _, n := range nodes {
		for _, line := range strings.Split(scrape(t, n.HTTPAddr()), "\n") {
			if v, ok := strings.CutPrefix(line, "pcs_catalog_rejected_requests_total "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				rejected += f
			}
		}
	}
	if rejected != parts {
		t.Errorf("pcs_catalog_rejected_requests_total summed over the fleet = %v, want %d", rejected, parts)
	}
}
