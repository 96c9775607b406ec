package catalog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/node/catalog"
)

// A one-node catalog: record a partition as done and ask about it, as a
// runner does before processing a partition.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "catalog-example")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	bcfg := broker.DefaultConfig()
	bcfg.StoreDir, bcfg.Logger = dir+"/broker", quiet
	b, err := broker.Start(ctx, bcfg)
	if err != nil {
		panic(err)
	}
	defer b.Shutdown(ctx)
	nc, _ := b.Connect()
	defer nc.Close()

	cfg := catalog.DefaultConfig()
	cfg.NodeID, cfg.Dir, cfg.Bootstrap = "n1", dir+"/catalog", true
	cfg.BindAddr = "127.0.0.1:0" // a free port; a real node advertises a fixed one
	cfg.Logger = quiet
	cat, err := catalog.Open(ctx, cfg, catalog.NewNATSForwarder(nc, "example"))
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
