// Command flights is the PCS demo (`make demo`): it starts a pcs-node with
// the embedded broker, publishes the 3M-row US flights data set as Arrow
// partitions with `pcs publish`, lets the node filter it, look up airports
// and derive columns, consumes the sink subject into a Parquet file with
// `pcs consume`, and prints rows in and out, the delayed share, the top 5
// origin states by delayed flights and the end-to-end rows/s. It then
// checks the output against a direct computation over the input. Last it
// runs the same pipeline section with `pcs run` (file-in/file-out, no
// broker) and checks both modes wrote the same rows. Finally it runs the
// window system over the node's output with `pcs run` (average delay per
// origin and hour), prints the 5 worst origin-hours and checks every
// origin-hour against a direct computation.
//
//	go run ./examples/flights [-bin DIR] [-flights FILE -airports FILE] [-keep]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports/parquet"
)

type options struct {
	repo      string // repository root
	bin       string // directory with pcs and pcs-node; built when empty
	flights   string // input Parquet; found by findData when empty
	airports  string
	batchRows int
	keep      bool // keep the work directory
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "directory with the pcs and pcs-node binaries (default: go build them)")
	flag.StringVar(&o.flights, "flights", "", "flights Parquet file (default: flights-3m.parquet, see README)")
	flag.StringVar(&o.airports, "airports", "", "airports.csv")
	flag.IntVar(&o.batchRows, "batch-rows", 16384, "rows per published partition (16384 flights rows are ~750 KB: inline, under the 1 MiB max_payload)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (store, logs, output)")
	flag.Parse()
	o.repo, _ = os.Getwd()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flights:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.flights == "" {
		d, err := findData(o.repo)
		if err != nil {
			return err
		}
		o.flights, o.airports = d.Flights, d.Airports
	}
	work, err := os.MkdirTemp("", "pcs-flights-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	if o.bin == "" {
		o.bin = filepath.Join(work, "bin")
		build := exec.CommandContext(ctx, "go", "build", "-v", "-o", o.bin+"/", "./cmd/pcs", "./cmd/pcs-node")
		build.Dir = o.repo
		if err := buildBinaries(build, out, 10*time.Second); err != nil {
			return err
		}
	}
	in, err := parquet.NewSource(o.flights)
	if err != nil {
		return err
	}
	rowsIn := in.NumRows()
	in.Close()
	fmt.Fprintf(out, "input:         %s (%d rows)\n", o.flights, rowsIn)

	natsAddr, httpAddr := freeAddr(), freeAddr()
	server := "nats://" + natsAddr
	logFile, err := os.Create(filepath.Join(work, "pcs-node.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	config := filepath.Join(o.repo, "examples", "flights", "node.toml")
	node := exec.Command(filepath.Join(o.bin, "pcs-node"), "--config", config)
	node.Env = append(os.Environ(), "PCS_STORE="+work, "PCS_LISTEN="+natsAddr, "PCS_HTTP="+httpAddr, "PCS_AIRPORTS="+o.airports)
	node.Stdout, node.Stderr = logFile, logFile
	if err := node.Start(); err != nil {
		return err
	}
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- node.Wait() }()
	defer func() {
		_ = node.Process.Signal(syscall.SIGTERM)
		select {
		case <-nodeDone:
		case <-time.After(30 * time.Second):
			_ = node.Process.Kill()
		}
	}()
	if err := waitReady(ctx, "http://"+httpAddr+"/readyz", nodeDone); err != nil {
		return fmt.Errorf("pcs-node did not get ready (log: %s): %w", logFile.Name(), err)
	}

	start := time.Now()
	if err := pcs(ctx, o.bin, out, "publish", "--server", server, "--subject", "flights.raw",
		"--batch-rows", fmt.Sprint(o.batchRows), "--quiet", o.flights); err != nil {
		return err
	}
	published := time.Since(start)
	if err := waitProcessed(ctx, server, nodeDone); err != nil {
		return err
	}
	elapsed := time.Since(start)
	result := filepath.Join(work, "enriched.parquet")
	if err := pcs(ctx, o.bin, io.Discard, "consume", "--server", server, "--subject", "flights.enriched", "--quiet", "--out", result); err != nil {
		return err
	}

	got, err := summarizeOutput(ctx, result)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "rows in:       %d\n", rowsIn)
	got.print(out)
	fmt.Fprintf(out, "end to end:    %.0f rows/s (published in %v, processed in %v)\n",
		float64(rowsIn)/elapsed.Seconds(), published.Round(time.Millisecond), elapsed.Round(time.Millisecond))
	want, err := computeDirectly(ctx, o.flights, o.airports)
	if err != nil {
		return err
	}
	if !got.equal(want) {
		fmt.Fprintln(out, "expected (direct computation):")
		want.print(out)
		return errors.New("the pipeline's output differs from the direct computation")
	}
	fmt.Fprintln(out, "verified:      the output equals a direct row-by-row computation over the input")

	// The same pipeline section, file-in/file-out with no broker.
	local := filepath.Join(work, "enriched-local.parquet")
	start = time.Now()
	runCmd := exec.CommandContext(ctx, filepath.Join(o.bin, "pcs"), "run", "--quiet", "--config", config)
	runCmd.Env = append(os.Environ(), "PCS_FLIGHTS="+o.flights, "PCS_OUT="+local, "PCS_AIRPORTS="+o.airports)
	runCmd.Stdout, runCmd.Stderr = io.Discard, os.Stderr
	if err := runCmd.Run(); err != nil {
		return fmt.Errorf("pcs run: %w", err)
	}
	took := time.Since(start)
	n, err := sameRows(ctx, result, local)
	if err != nil {
		return fmt.Errorf("pcs run and pcs-node differ: %w", err)
	}
	fmt.Fprintf(out, "pcs run:       %d rows in %v, the same rows as pcs-node's output (all columns, any order)\n", n, took.Round(time.Millisecond))
	return originHours(ctx, o, work, result, out)
}

// originHours runs the window system over pcs-node's output with `pcs
// run` (hourlyTOML: average delay and flights per origin and hour),
// prints the 5 worst origin-hours and checks every origin-hour against a
// direct computation over the input.
func originHours(ctx context.Context, o options, work, enriched string, out io.Writer) error {
	config := filepath.Join(work, "hourly.toml")
	if err := os.WriteFile(config, []byte(hourlyTOML), 0o644); err != nil {
		return err
	}
	hours := filepath.Join(work, "origin-hours.parquet")
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(o.bin, "pcs"), "run", "--quiet", "--config", config)
	cmd.Env = append(os.Environ(), "PCS_ENRICHED="+enriched, "PCS_HOURS="+hours)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pcs run (hourly window): %w", err)
	}
	took := time.Since(start)
	got, err := readHours(ctx, hours)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "hourly window: %d origin-hours (tumbling 1h by origin over pcs-node's output) in %v\n", len(got), took.Round(time.Millisecond))
	fmt.Fprintf(out, "5 worst origin-hours by average delay (%d+ flights):\n", worstMinFlights)
	for _, h := range worstHours(got, 5) {
		fmt.Fprintf(out, "  %v\n", h)
	}
	want, err := hoursDirectly(ctx, o.flights)
	if err != nil {
		return err
	}
	if err := sameHours(got, want); err != nil {
		return fmt.Errorf("the hourly window differs from the direct computation: %w", err)
	}
	fmt.Fprintln(out, "verified:      every origin-hour equals a direct computation over the input")
	return nil
}

// pcs runs the pcs CLI, its stdout to out.
func pcs(ctx context.Context, bin string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pcs"), args...)
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pcs %s: %w", args[0], err)
	}
	return nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(ctx context.Context, url string, exited <-chan error) error {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("pcs-node exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("timeout")
}

// waitProcessed waits until the node has taken every input partition:
// the work-queue input stream is empty and nothing is in flight.
func waitProcessed(ctx context.Context, server string, exited <-chan error) error {
	nc, err := nats.Connect(server)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cons, err := js.Consumer(ctx, "PCS_FLIGHTS_IN", "flights")
	if err != nil {
		return err
	}
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0 {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("pcs-node exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// buildBinaries runs build (go build -v of pcs and pcs-node) and says what
// it is doing on out: a line before it starts, one every interval with
// the packages compiled so far (go build -v names each as it compiles
// it; a warm cache compiles none), and one when it is done. On failure
// the error carries go build's output.
func buildBinaries(build *exec.Cmd, out io.Writer, interval time.Duration) error {
	fmt.Fprintln(out, "building:      pcs and pcs-node (go build; the first build on a cold cache takes about 2 minutes)")
	start := time.Now()
	var compiled atomic.Int64
	var log strings.Builder
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	build.Stdout, build.Stderr = w, w
	if err := build.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("go build: %w", err)
	}
	w.Close()
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		var line []byte
		for {
			n, err := r.Read(buf)
			for _, c := range buf[:n] {
				if c != '\n' {
					line = append(line, c)
					continue
				}
				log.Write(line)
				log.WriteByte('\n')
				if l := string(line); l != "" && !strings.ContainsAny(l, " :#") {
					compiled.Add(1) // a package path
				}
				line = line[:0]
			}
			if err != nil {
				log.Write(line)
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		<-read
		r.Close()
		done <- build.Wait()
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("go build: %w\n%s", err, log.String())
			}
			fmt.Fprintf(out, "built:         pcs and pcs-node in %s (%d packages compiled)\n", time.Since(start).Round(100*time.Millisecond), compiled.Load())
			return nil
		case <-tick.C:
			fmt.Fprintf(out, "building:      %d packages compiled so far (%s)\n", compiled.Load(), time.Since(start).Round(time.Second))
		}
	}
}
