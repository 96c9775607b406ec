package catalog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/pcs-dev/pcs/node/catalog"
)

// A one-node catalog: record a partition as done and ask about it, as a
// runner does before processing a partition. A fleet's nodes forward to
// each other over NATS (NewNATSForwarder on each node's connection); the
// nodes of one process can use a MemoryNetwork.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "catalog-example")
	defer os.RemoveAll(dir)

	cfg := catalog.DefaultConfig()
	cfg.NodeID, cfg.Dir, cfg.Bootstrap = "n1", dir, true
	cfg.BindAddr = "127.0.0.1:0" // a free port; a real node advertises a fixed one
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	net := catalog.NewMemoryNetwork()
	cat, err := catalog.Open(ctx, cfg, net.Forwarder(cfg.NodeID))
	if err != nil {
		panic(err)
	}
	defer cat.Close(ctx)

	err = cat.RecordPartitions(ctx, catalog.PartitionRecord{
		Pipeline: "flights", ID: "src/1", Status: catalog.StatusDone, Rows: 1000,
	})
	fmt.Println(err, cat.IsDone("flights", "src/1"), cat.IsDone("flights", "src/2"))
	ps, _ := cat.Status().Pipeline("flights")
	fmt.Println(ps.Counters.Done, ps.Counters.Rows)
	// Output:
	// <nil> true false
	// 1 1000
}
