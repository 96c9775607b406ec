// Command chaos is the fault matrix of PCS as a suite (`make chaos`): for
// each fault, CHAOS_RUNS times (default 1), a fresh `pcs broker` process
// and three pcs-node processes sharing a Raft catalog with a fleet key
// (chaos.toml) process 60 partitions of 500 rows numbered by row_id,
// published at a steady pace by the driver; a third of the way in the
// fault is injected (kill -9 of a worker, of the catalog's leader, of the
// broker; SIGSTOP beyond ack_wait and beyond the duplicate window and
// dead_node_timeout; a quorum lost beyond the duplicate window; whole-fleet
// and rolling restarts; a full sink; forged catalog commands; malformed
// partitions; a partitioned node, a partitioned leader, a flapping link
// and 100 ms of latency, each node then running in its own network
// namespace (netns.go; these rows skip, saying why, without root or
// iproute2 or netem); a broker store on a tmpfs filled up). The checker then reads the whole sink and counts row ids
// lost, duplicated and unexpected, compares every node's catalog with the
// input (divergent nodes) and the dead letters with the malformed
// partitions, and measures the recovery: from the fault until every
// partition published before it is done. It prints one table.
//
// The sink is pre-created with a 1 s duplicate window (2 min by default)
// so that pauses of seconds outlast it, as node's
// TestPausedNodePublishesNothing does: duplicates then cannot hide behind
// JetStream's deduplication.
//
//	go run ./examples/chaos [-runs N] [-only REGEXP] [-bin DIR] [-keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	repo, bin, work string
	runs            int
	only            *regexp.Regexp
	keep            bool
}

// notRun are the rows of the matrix this suite does not run yet,
// with the reason, printed under the table.
var notRun []string

func main() {
	var o options
	runs, _ := strconv.Atoi(os.Getenv("CHAOS_RUNS"))
	only := flag.String("only", "", "run only the faults whose name matches this regular expression")
	flag.IntVar(&o.runs, "runs", max(runs, 1), "repetitions of each fault (default $CHAOS_RUNS or 1)")
	flag.StringVar(&o.bin, "bin", "", "directory with the pcs and pcs-node binaries (default: go build them)")
	flag.BoolVar(&o.keep, "keep", false, "keep every run's directory (logs, stores)")
	flag.Parse()
	var err error
	if o.only, err = regexp.Compile(*only); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: -only:", err)
		os.Exit(2)
	}
	o.repo, _ = os.Getwd()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := suite(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

// row is one line of the table: a fault over its runs.
type row struct {
	name                        string
	runs, failed                int
	lost, dup, unexpected, dead int64
	divergent                   int
	recoveries                  []time.Duration
	errs                        []string
	skipped                     string // why the row did not run here
}

// suite runs every selected fault o.runs times and prints the table; it
// fails if any run lost, duplicated or invented a row, diverged, or did
// not complete.
func suite(ctx context.Context, o options, out io.Writer) error {
	var err error
	if o.work, err = os.MkdirTemp("", "pcs-chaos-"); err != nil {
		return err
	}
	defer func() {
		if !o.keep {
			os.RemoveAll(o.work)
		}
	}()
	if o.bin == "" {
		o.bin = filepath.Join(o.work, "bin")
		fmt.Fprintln(out, "chaos: building pcs and pcs-node")
		if err := build(ctx, o.repo, o.bin); err != nil {
			return err
		}
	}
	var rows []row
	bad := false
	for _, sc := range scenarios {
		if !o.only.MatchString(sc.name) {
			continue
		}
		rw := row{name: sc.name}
		if sc.skip != nil {
			if rw.skipped = sc.skip(); rw.skipped != "" {
				fmt.Fprintf(out, "chaos: %-70s skipped: %s\n", sc.name, rw.skipped)
				rows = append(rows, rw)
				continue
			}
		}
		for i := range o.runs {
			start := time.Now()
			res := runOnce(ctx, o, sc)
			rw.runs++
			rw.lost += res.Lost
			rw.dup += res.Duplicated
			rw.unexpected += res.Unexpected
			rw.dead += res.DeadLettered
			rw.divergent += res.Divergent
			if res.Err != nil {
				rw.failed++
				rw.errs = append(rw.errs, res.Err.Error())
			} else {
				rw.recoveries = append(rw.recoveries, res.Recovery)
			}
			fmt.Fprintf(out, "chaos: %-70s run %d/%d: lost %d, duplicated %d, unexpected %d, divergent %d, recovery %v (%v)%s\n",
				sc.name, i+1, o.runs, res.Lost, res.Duplicated, res.Unexpected, res.Divergent, res.Recovery.Round(10*time.Millisecond),
				time.Since(start).Round(time.Second), errSuffix(res.Err))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if rw.failed > 0 || rw.lost+rw.dup+rw.unexpected > 0 || rw.divergent > 0 {
			bad = true
		}
		rows = append(rows, rw)
	}
	fmt.Fprintln(out)
	printTable(out, rows, o.runs)
	if bad {
		return fmt.Errorf("a fault lost, duplicated or invented rows, or a run failed")
	}
	return nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": FAILED: " + err.Error()
}

// printTable prints the Markdown table of rows.
func printTable(out io.Writer, rows []row, runs int) {
	fmt.Fprintf(out, "Fault matrix: 3 pcs-node processes + pcs broker, %d partitions x %d rows per run, sink duplicate window %v, ack_wait 2 s, dead_node_timeout 5 s\n\n",
		partitions, rowsPer, dupWindow)
	fmt.Fprintln(out, "| fault | runs | lost | duplicated | unexpected | divergent catalogs | dead-lettered | recovery (median / max) | failed runs |")
	fmt.Fprintln(out, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		if r.skipped != "" {
			fmt.Fprintf(out, "| %s | 0 | - | - | - | - | - | - | skipped: %s |\n", r.name, strings.ReplaceAll(r.skipped, "|", "/"))
			continue
		}
		rec := "-"
		if len(r.recoveries) > 0 {
			s := slices.Clone(r.recoveries)
			slices.Sort(s)
			rec = fmt.Sprintf("%.1f s / %.1f s", s[len(s)/2].Seconds(), s[len(s)-1].Seconds())
		}
		fmt.Fprintf(out, "| %s | %d | %d | %d | %d | %d | %d | %s | %d |\n", r.name, r.runs, r.lost, r.dup, r.unexpected, r.divergent, r.dead, rec, r.failed)
	}
	for _, s := range notRun {
		fmt.Fprintln(out, "\nnot run:", s)
	}
	for _, r := range rows {
		for _, e := range r.errs {
			fmt.Fprintf(out, "\n%s: %s", r.name, strings.TrimSpace(e))
		}
	}
	fmt.Fprintln(out)
}
