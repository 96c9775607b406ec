// Command cluster is the production-topology demo (`make demo-cluster`):
// three nats-server processes (built from the nats-server Go module at the
// version go.mod pins) clustered with JetStream, TLS on client and route
// connections (certificates from a throwaway CA made here with
// crypto/x509), a NATS user per client (nats.conf); three pcs-node
// processes (cluster.toml) whose streams and object stores have three
// replicas and whose Raft catalog runs over mutual TLS.
//
// The driver publishes the flights data with `pcs publish --row-id row_id`
// (as the publisher user, which may publish only to the input subject),
// kills one pcs-node with SIGKILL mid-run and restarts it, kills the input
// stream's leader NATS server with SIGKILL and restarts it, waits for
// the input to be fully processed, reads the sink with `pcs consume` (as
// the consumer user) and verifies: every row id exactly once (0 lost, 0
// duplicates), the catalog's done partitions and rows equal to the sink's.
// It reports the longest stall of throughput (the longest time the
// catalog's done count did not grow while input was left) and checks that
// no secret (NATS passwords, the HTTP token) appears in any log or status.
//
//	go run ./examples/cluster [-bin DIR] [-flights FILE -airports FILE] [-batch-rows N] [-keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

type options struct {
	repo      string // repository root
	bin       string // directory with pcs, pcs-node and nats-server; built when empty
	flights   string // input Parquet; flights-3m.parquet or the 50k slice when empty
	airports  string // airports.csv
	batchRows int    // rows per published partition; 0: by input size
	keep      bool   // keep the work directory
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "directory with the pcs, pcs-node and nats-server binaries (default: go build them)")
	flag.StringVar(&o.flights, "flights", "", "flights Parquet file (default: ../shared/data/flights-3m.parquet, else the 50k-row slice in examples/flights/testdata)")
	flag.StringVar(&o.airports, "airports", "", "airports.csv (default: beside the flights file)")
	flag.IntVar(&o.batchRows, "batch-rows", 0, "rows per published partition (default: 16384 for 1M+ rows, else about 1/100 of the rows)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (stores, certificates, logs, sink file)")
	flag.Parse()
	o.repo, _ = os.Getwd()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// findData returns the flights and airports files: the shared data set
// beside the repository, else the 50,000-row slice shipped in
// examples/flights/testdata.
func findData(repo string) (flights, airports string) {
	shared := filepath.Join(repo, "..", "shared", "data")
	if exists(filepath.Join(shared, "flights-3m.parquet")) && exists(filepath.Join(shared, "airports.csv")) {
		return filepath.Join(shared, "flights-3m.parquet"), filepath.Join(shared, "airports.csv")
	}
	td := filepath.Join(repo, "examples", "flights", "testdata")
	return filepath.Join(td, "flights-50k.parquet"), filepath.Join(td, "airports.csv")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
