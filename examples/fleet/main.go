// Command fleet is the fleet demo (`make demo-fleet`): one broker (`pcs
// broker`) and three pcs-node processes sharing a Raft catalog (n1
// bootstraps it, n2 and n3 join) run the flights pipeline of fleet.toml.
// The driver publishes the flights data with `pcs publish --row-id row_id`,
// kills one node with SIGKILL while it has partitions in flight, measures
// the recovery (until every partition delivered before the kill is acked,
// which for the killed node's partitions means redelivered after their ack
// wait and processed by another node), restarts the killed node, waits for
// the input to be fully processed, prints the catalog (`pcs status`) and the
// sink (`pcs consume` into a Parquet file), and verifies that every row id
// 0..N-1 is in the sink exactly once and that the catalog's done partitions
// and rows equal the sink's.
//
//	go run ./examples/fleet [-bin DIR] [-flights FILE -airports FILE] [-batch-rows N] [-kill-at F] [-kill follower|leader] [-keep]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pcs-dev/pcs/examples/internal/rowid"
)

type options struct {
	repo      string  // repository root
	bin       string  // directory with pcs and pcs-node; built when empty
	flights   string  // input Parquet; flights-3m.parquet or the 50k slice when empty
	airports  string  // airports.csv
	batchRows int     // rows per published partition; 0: by input size
	killAt    float64 // fraction of the partitions done before the kill
	kill      string  // which node: "follower" (of the catalog's leader) or "leader"
	keep      bool    // keep the work directory
	quiet     bool    // no `pcs status` report (tests, benchmarks)
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "directory with the pcs and pcs-node binaries (default: go build them)")
	flag.StringVar(&o.flights, "flights", "", "flights Parquet file (default: ../shared/data/flights-3m.parquet, else the 50k-row slice in examples/flights/testdata)")
	flag.StringVar(&o.airports, "airports", "", "airports.csv (default: beside the flights file)")
	flag.IntVar(&o.batchRows, "batch-rows", 0, "rows per published partition (default: 16384 for 1M+ rows, else about 1/100 of the rows)")
	flag.Float64Var(&o.killAt, "kill-at", 0.25, "kill a node once this fraction of the partitions is done")
	flag.StringVar(&o.kill, "kill", "follower", "the node to kill: follower (a node that is not the catalog's leader) or leader (recovery then includes an election)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (stores, logs, sink file)")
	flag.Parse()
	o.repo, _ = os.Getwd()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
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

// result is what a run measured and verified.
type result struct {
	Rows       int64 // input rows (row ids 0..Rows-1)
	Partitions int64 // published partitions
	Expected   int64 // rows the pipeline keeps (its filter), each expected once in the sink

	Killed         string        // the node killed
	DoneAtKill     int64         // partitions done (catalog) at the kill
	InFlightAtKill int64         // partitions in flight on the killed node (its pcs_in_flight)
	Recovery       time.Duration // SIGKILL until every partition delivered before it was acked
	Missed         bool          // no kill caught a node with partitions in flight (Recovery is 0)
	Redelivered    uint64        // deliveries beyond the first (the killed node's partitions, plus any spurious ones)
	Restart        time.Duration // restart of the killed node until it was ready again
	Wall           time.Duration // publish start until the input was fully processed

	SinkPartitions, SinkRows int64 // what `pcs consume` read from the sink
	CatalogDone, CatalogRows int64 // the catalog's done partitions and their rows
	Lost, Duplicates         int64 // expected row ids missing from / repeated in the sink
	Unexpected               int64 // sink rows whose id was not expected (filtered out or out of range)
}

func run(ctx context.Context, o options, out io.Writer) (res result, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.flights == "" {
		o.flights, o.airports = findData(o.repo)
	}
	if o.airports == "" {
		o.airports = filepath.Join(filepath.Dir(o.flights), "airports.csv")
	}
	if o.killAt <= 0 || o.killAt >= 1 {
		return res, fmt.Errorf("-kill-at %v: want a fraction between 0 and 1", o.killAt)
	}
	switch o.kill {
	case "":
		o.kill = "follower"
	case "follower", "leader":
	default:
		return res, fmt.Errorf("-kill %q: want follower or leader", o.kill)
	}
	work, err := os.MkdirTemp("", "pcs-fleet-")
	if err != nil {
		return res, err
	}
	if o.keep {
		fmt.Fprintln(out, "work directory:", work)
	}
	defer func() {
		switch {
		case err != nil && !o.keep:
			fmt.Fprintln(out, "work directory kept for its logs:", work)
		case !o.keep:
			os.RemoveAll(work)
		}
	}()
	if o.bin == "" {
		o.bin = filepath.Join(work, "bin")
		if err := build(ctx, o.repo, o.bin); err != nil {
			return res, err
		}
	}
	in, err := rowid.ReadInput(ctx, o.flights)
	if err != nil {
		return res, err
	}
	res.Rows, res.Expected = in.Rows, in.Expected
	if o.batchRows <= 0 {
		o.batchRows = 16384
		if in.Rows < 1_000_000 {
			o.batchRows = int(max(in.Rows/100, 100))
		}
	}
	fmt.Fprintf(out, "input:       %s (%d rows, %d kept by the pipeline's filter)\n", o.flights, in.Rows, in.Expected)

	f := &fleet{bin: o.bin, work: work, config: filepath.Join(o.repo, "examples", "fleet", "fleet.toml"), airports: o.airports}
	defer f.stop()
	if err := f.start(ctx); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "fleet:       pcs broker %s; pcs-node n1 (bootstraps the catalog), n2, n3 (join); leader %s; voters %s\n",
		f.server, f.leader, joinIDs(f.voters))

	// Publish in the background; kill a follower with partitions in flight
	// once killAt of the partitions are done.
	wantParts := (in.Rows + int64(o.batchRows) - 1) / int64(o.batchRows)
	start := time.Now()
	pub := &publishing{done: make(chan struct{})}
	go func() {
		defer close(pub.done)
		pub.publishResult = f.publish(ctx, o.flights, o.batchRows)
	}()
	// The victim had partitions in flight a moment before the kill, but it
	// may have acked them in that moment (tens of ms on a loaded host). A
	// partition it held cannot be redelivered before 2/3 of the ack wait
	// (its last InProgress is at most ack_wait/3 old), so a recovery
	// shorter than that means the kill caught nothing: restart the node
	// and kill again, while input remains.
	threshold := max(int64(o.killAt*float64(wantParts)), 1)
	var k killed
	for attempt := 1; ; attempt++ {
		next, err := f.killWhen(ctx, threshold, o.kill == "leader", pub)
		if errors.Is(err, errTooLate) && attempt > 1 {
			res.Missed = true
			fmt.Fprintln(out, "kill:        the input was processed before another node could be killed mid-partition: no recovery measured")
			break
		}
		if err != nil {
			return res, err
		}
		k = next
		res.Killed, res.DoneAtKill, res.InFlightAtKill = k.node.id, k.done, k.inFlight
		fmt.Fprintf(out, "kill:        SIGKILL %s (the catalog's %s) at %d of ~%d partitions done (%s had done %d, %d in flight)\n",
			k.node.id, o.kill, k.done, wantParts, k.node.id, k.nodeDone, k.inFlight)
		rec, err := f.waitRecovered(ctx, k)
		if err != nil {
			return res, err
		}
		if rec >= 2*f.ackWait/3 || attempt == 3 {
			res.Recovery = rec
			fmt.Fprintf(out, "recovery:    %v from the SIGKILL until every partition delivered before it was acked (ack_wait %v)\n",
				rec.Round(time.Millisecond), f.ackWait)
			break
		}
		fmt.Fprintf(out, "missed:      %s had acked its partitions just before the kill (everything delivered before it was acked after %v); restarting it and killing again\n",
			k.node.id, rec.Round(time.Millisecond))
		if err := f.restart(ctx, k.node); err != nil {
			return res, err
		}
		threshold = 1
	}

	// Restart the killed node (it rejoins the catalog with its Raft state)
	// while the others finish the input.
	restarting := k.node.p.Exited()
	restarted := make(chan error, 1)
	var restartTook time.Duration // written before the send on restarted
	var restarter sync.WaitGroup
	restarter.Add(1)
	defer restarter.Wait() // before f.stop, which then stops the node too
	go func() {
		defer restarter.Done()
		t := time.Now()
		var err error
		if restarting {
			err = f.restart(ctx, k.node)
		}
		restartTook = time.Since(t)
		restarted <- err
	}()
	<-pub.done
	if pub.err != nil {
		return res, pub.err
	}
	res.Partitions = pub.partitions
	redelivered, err := f.waitProcessed(ctx)
	if err != nil {
		return res, err
	}
	res.Wall = time.Since(start)
	res.Redelivered = redelivered
	if err := <-restarted; err != nil {
		return res, err
	}
	res.Restart = restartTook
	if restarting {
		fmt.Fprintf(out, "restart:     %s ready again in %v (same directory: it rejoined the catalog)\n", k.node.id, res.Restart.Round(time.Millisecond))
	}
	fmt.Fprint(out, "publish:     ", pub.line)
	fmt.Fprintf(out, "processed:   %d rows in %v from the start of the publish (%.0f rows/s), %d partitions redelivered\n",
		in.Rows, res.Wall.Round(time.Millisecond), float64(in.Rows)/res.Wall.Seconds(), redelivered)
	if redelivered == 0 && !res.Missed {
		// Killing the leader stalls the survivors' catalog requests, so a
		// kill that caught nothing can still look like a recovery.
		res.Missed = true
		fmt.Fprintf(out, "note:        no partition was redelivered: %s held none at the kill; the recovery above is the survivors' own delay\n", k.node.id)
	}

	st, err := f.converged(ctx, res.Partitions)
	if err != nil {
		return res, err
	}
	if ps, ok := st.Catalog.Pipeline("flights"); ok {
		res.CatalogDone, res.CatalogRows = ps.Counters.Done, ps.Counters.Rows
	}
	if !o.quiet {
		fmt.Fprintf(out, "\n$ pcs status --url http://%s\n", k.node.http)
		if err := f.pcs(ctx, out, "status", "--url", "http://"+k.node.http); err != nil {
			return res, err
		}
		fmt.Fprintln(out)
	}

	sink := filepath.Join(work, "sink.parquet")
	line, err := f.consume(ctx, sink)
	if err != nil {
		return res, err
	}
	fmt.Fprint(out, "sink:        ", line)
	res.SinkPartitions, res.SinkRows, err = parseConsumed(line)
	if err != nil {
		return res, err
	}
	c, err := rowid.CheckSink(ctx, sink, in)
	if err != nil {
		return res, err
	}
	res.Lost, res.Duplicates, res.Unexpected = c.Lost, c.Duplicates, c.Unexpected
	if c.Rows != res.SinkRows {
		return res, fmt.Errorf("the sink file has %d rows, pcs consume reported %d", c.Rows, res.SinkRows)
	}
	fmt.Fprintf(out, "row ids:     %d lost, %d duplicates, %d unexpected (every row id 0..%d that passes the filter exactly once)\n",
		c.Lost, c.Duplicates, c.Unexpected, in.Rows-1)
	fmt.Fprintf(out, "catalog:     %d partitions done, %d rows; sink: %d partitions, %d rows; published: %d partitions, %d rows\n",
		res.CatalogDone, res.CatalogRows, res.SinkPartitions, res.SinkRows, res.Partitions, in.Rows)

	var errs []error
	if c.Lost != 0 || c.Duplicates != 0 || c.Unexpected != 0 {
		errs = append(errs, fmt.Errorf("the sink is not exactly once: %d lost, %d duplicates, %d unexpected row ids", c.Lost, c.Duplicates, c.Unexpected))
	}
	if res.CatalogDone != res.SinkPartitions || res.CatalogDone != res.Partitions {
		errs = append(errs, fmt.Errorf("the catalog has %d partitions done, the sink %d, the input %d", res.CatalogDone, res.SinkPartitions, res.Partitions))
	}
	// The catalog counts a done partition's input rows, the sink its
	// output rows: equal when the filter keeps every row (as for flights).
	if res.CatalogRows != in.Rows || res.SinkRows != in.Expected || (in.Rows == in.Expected && res.CatalogRows != res.SinkRows) {
		errs = append(errs, fmt.Errorf("rows: catalog %d (want the input's %d), sink %d (want %d)", res.CatalogRows, in.Rows, res.SinkRows, in.Expected))
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	fmt.Fprintln(out, "verified:    0 lost, 0 duplicates; the catalog's done partitions and rows equal the sink's")
	if err := f.stopAll(); err != nil {
		return res, err
	}
	return res, nil
}
