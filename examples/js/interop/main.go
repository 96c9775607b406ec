// Command interop is `make interop`: PCS and the stock JavaScript clients
// of examples/js against one real pcs-node, end to end.
//
//  1. npm ci and npm test in examples/js (pinned versions; the schema
//     fingerprint vectors of docs/wire-format.md);
//  2. builds pcs and pcs-node, starts pcs-node on examples/flights/node.toml
//     with its embedded broker on a free TCP port (broker.listen port 0;
//     the URL comes from /v1/status);
//  3. publishes flights-50k (and ../shared/data/flights-3m.parquet when
//     present) with `pcs publish`, waits until the node has processed them;
//  4. reads the sink flights.enriched with the JS consumer (consumer.mjs)
//     and with `pcs consume --durable --out x.parquet`, reads that Parquet
//     with DuckDB (duckdb.mjs), and checks that rows and the sums of delay
//     and distance agree with each other and with DuckDB's filter of the
//     input files;
//  5. publishes a table with the JS producer (producer.mjs) to flights.raw
//     and reads its output back with the JS consumer (same durable: only
//     the new output), checking rows and sums;
//
// and prints one table of figures. Run from the repository root:
//
//	go run ./examples/js/interop
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	subjectIn  = "flights.raw"
	subjectOut = "flights.enriched"
	streamIn   = "PCS_FLIGHTS_IN"
	streamDLQ  = "PCS_FLIGHTS_IN_DLQ"
	sums       = "delay,distance"
	// filter is the pipeline's filter system (examples/flights/node.toml) in SQL.
	filter = "delay IS NOT NULL AND distance > 0"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "interop: FAIL:", err)
		os.Exit(1)
	}
}

// figures are one row of the final table.
type figures struct {
	step     string
	rows     int64 // -1: not a row count
	sums     map[string]string
	messages string
	parts    string
	elapsed  time.Duration
}

// jsResult is the JSON line of consumer.mjs, producer.mjs and duckdb.mjs.
type jsResult struct {
	Outputs     int64             `json:"outputs"`
	Messages    int64             `json:"messages"`
	Parts       int64             `json:"parts"`
	ClaimChecks int64             `json:"claimChecks"`
	Rows        int64             `json:"rows"`
	Sums        map[string]string `json:"sums"`
}

func run(ctx context.Context, stdout, log io.Writer) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	js := filepath.Join(root, "examples", "js")
	if _, err := os.Stat(filepath.Join(js, "package-lock.json")); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	inputs := []string{filepath.Join(root, "examples/flights/testdata/flights-50k.parquet")}
	big := filepath.Join(root, "../shared/data/flights-3m.parquet")
	if _, err := os.Stat(big); err == nil {
		inputs = append(inputs, big)
	} else {
		fmt.Fprintf(log, "interop: %s absent: the 50k slice only\n", big)
	}
	work, err := os.MkdirTemp("", "pcs-interop-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var table []figures
	step := func(name string, f func() error) error {
		fmt.Fprintf(log, "interop: %s\n", name)
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	sh := func(dir string, name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(&errb, log)
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(lastLine(errb.String())))
		}
		return out.Bytes(), nil
	}
	node := func(args ...string) (jsResult, time.Duration, error) {
		start := time.Now()
		out, err := sh(js, "node", args...)
		var r jsResult
		if err == nil {
			err = json.Unmarshal(lastJSON(out), &r)
		}
		return r, time.Since(start), err
	}

	if err := step("npm ci and npm test in examples/js", func() error {
		if _, err := sh(js, "npm", "ci", "--no-audit", "--no-fund"); err != nil {
			return err
		}
		_, err := sh(js, "npm", "test")
		return err
	}); err != nil {
		return err
	}
	bin := filepath.Join(work, "bin")
	if err := step("go build pcs and pcs-node", func() error {
		_, err := sh(root, "go", "build", "-o", bin+"/", "./cmd/pcs", "./cmd/pcs-node")
		return err
	}); err != nil {
		return err
	}
	pcs := filepath.Join(bin, "pcs")

	var url string
	var stopNode func()
	if err := step("start pcs-node (examples/flights/node.toml, broker on a free port)", func() error {
		url, stopNode, err = startNode(ctx, filepath.Join(bin, "pcs-node"), filepath.Join(root, "examples/flights/node.toml"), work, log)
		return err
	}); err != nil {
		return err
	}
	defer stopNode()
	fmt.Fprintf(log, "interop: broker %s\n", url)
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	jsc, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// 1. pcs publish the flights files; the node processes them.
	start := time.Now()
	var published jsResult
	var partitions string
	if err := step("pcs publish "+strings.Join(baseNames(inputs), " "), func() error {
		out, err := sh(root, pcs, append([]string{"publish", "--server", url, "--subject", subjectIn, "--quiet"}, inputs...)...)
		if err != nil {
			return err
		}
		partitions, published.Rows, err = summary(`published ([\d,]+) partitions?, ([\d,]+) rows`, out)
		return err
	}); err != nil {
		return err
	}
	table = append(table, figures{step: "pcs publish (input files)", rows: published.Rows, messages: partitions, parts: "-", elapsed: time.Since(start)})
	if err := step("wait for pcs-node to process every partition", func() error { return waitProcessed(ctx, jsc) }); err != nil {
		return err
	}
	table = append(table, figures{step: "pcs-node processed (publish to done)", rows: -1, messages: "-", parts: "-", elapsed: time.Since(start)})
	expected, dd, err := node(append([]string{"duckdb.mjs", "--sum", sums, "--where", filter}, inputs...)...)
	if err != nil {
		return err
	}
	table = append(table, figures{step: "DuckDB: input where " + filter, rows: expected.Rows, sums: expected.Sums, messages: "-", parts: "-", elapsed: dd})

	// 2. The sink read by JS, by pcs consume, and pcs consume's file by DuckDB.
	jsOut, d, err := node("consumer.mjs", "--server", url, "--subject", subjectOut, "--durable", "js-interop", "--sum", sums)
	if err != nil {
		return err
	}
	table = append(table, figures{step: "JS consumer (durable js-interop)", rows: jsOut.Rows, sums: jsOut.Sums,
		messages: fmt.Sprintf("%d (%d outputs, %d claim checks)", jsOut.Messages, jsOut.Outputs, jsOut.ClaimChecks), parts: strconv.FormatInt(jsOut.Parts, 10), elapsed: d})
	parquet := filepath.Join(work, "enriched.parquet")
	var consumed int64
	var consumedParts string
	start = time.Now()
	if err := step("pcs consume --durable pcs-interop --out enriched.parquet", func() error {
		out, err := sh(root, pcs, "consume", "--server", url, "--subject", subjectOut, "--durable", "pcs-interop", "--out", parquet, "--quiet")
		if err != nil {
			return err
		}
		consumedParts, consumed, err = summary(`consumed ([\d,]+) partitions?, ([\d,]+) rows`, out)
		return err
	}); err != nil {
		return err
	}
	table = append(table, figures{step: "pcs consume --out enriched.parquet", rows: consumed, messages: consumedParts, parts: "-", elapsed: time.Since(start)})
	duck, d, err := node("duckdb.mjs", "--sum", sums, parquet)
	if err != nil {
		return err
	}
	table = append(table, figures{step: "DuckDB: enriched.parquet", rows: duck.Rows, sums: duck.Sums, messages: "-", parts: "-", elapsed: d})

	var failures []string
	check := func(what string, got, want jsResult) {
		if got.Rows != want.Rows {
			failures = append(failures, fmt.Sprintf("%s: %d rows, want %d", what, got.Rows, want.Rows))
		}
		for _, c := range strings.Split(sums, ",") {
			if got.Sums[c] != want.Sums[c] {
				failures = append(failures, fmt.Sprintf("%s: sum(%s) = %s, want %s", what, c, got.Sums[c], want.Sums[c]))
			}
		}
	}
	check("JS consumer vs DuckDB on the input", jsOut, expected)
	check("DuckDB on pcs consume's file vs the input", duck, expected)
	if consumed != jsOut.Rows {
		failures = append(failures, fmt.Sprintf("pcs consume: %d rows, JS consumer %d", consumed, jsOut.Rows))
	}
	if consumedParts != strconv.FormatInt(jsOut.Messages, 10) {
		failures = append(failures, fmt.Sprintf("pcs consume: %s partitions, JS consumer %d messages", consumedParts, jsOut.Messages))
	}

	// 3. The JS producer's table through the node, read back by the JS consumer.
	produced, d, err := node("producer.mjs", "--server", url, "--subject", subjectIn, "--source", "js-producer", "--rows", "1000")
	if err != nil {
		return err
	}
	table = append(table, figures{step: "JS producer -> " + subjectIn, rows: produced.Rows, sums: produced.Sums, messages: "1", parts: "-", elapsed: d})
	if err := step("wait for pcs-node to process the JS producer's partition", func() error { return waitProcessed(ctx, jsc) }); err != nil {
		return err
	}
	back, d, err := node("consumer.mjs", "--server", url, "--subject", subjectOut, "--durable", "js-interop", "--sum", sums)
	if err != nil {
		return err
	}
	table = append(table, figures{step: "JS consumer reads it back", rows: back.Rows, sums: back.Sums,
		messages: fmt.Sprintf("%d (%d outputs)", back.Messages, back.Outputs), parts: strconv.FormatInt(back.Parts, 10), elapsed: d})
	check("JS consumer vs JS producer", back, produced)
	if back.Outputs != 1 {
		failures = append(failures, fmt.Sprintf("JS consumer read %d outputs back, want 1", back.Outputs))
	}
	if n, err := streamMsgs(ctx, jsc, streamDLQ); err != nil || n != 0 {
		failures = append(failures, fmt.Sprintf("dead letters in %s: %d (%v)", streamDLQ, n, err))
	}

	// The step column left-aligned, the figures right-aligned.
	width := len("step")
	for _, f := range table {
		width = max(width, len(f.step))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\trows\tsum(delay)\tsum(distance)\tmessages\tparts\ttime\t\n", width, "step")
	for _, f := range table {
		el := "-"
		if f.elapsed > 0 {
			el = f.elapsed.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", width, f.step, rows(f), sum(f, "delay"), sum(f, "distance"), f.messages, f.parts, el)
	}
	tw.Flush()
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	fmt.Fprintln(stdout, "interop: OK: the JS consumer, pcs consume and DuckDB agree on rows and sums; the JS producer's table came back whole")
	return nil
}

func rows(f figures) string {
	if f.rows < 0 {
		return "-"
	}
	return strconv.FormatInt(f.rows, 10)
}

func sum(f figures, c string) string {
	if v, ok := f.sums[c]; ok {
		return v
	}
	return "-"
}

// running is the node's "node running" log line and its control plane's address.
var running = regexp.MustCompile(`node running.*\bhttp"?[=:]"?([^\s"]+)`)

// startNode starts pcs-node with config, its store and broker in work,
// the broker and the control plane on free ports, and returns the
// broker's URL (from /v1/status) and a stop function.
func startNode(ctx context.Context, bin, config, work string, log io.Writer) (string, func(), error) {
	cmd := exec.Command(bin, "--config", config)
	cmd.Env = append(os.Environ(), "PCS_STORE="+work, "PCS_LISTEN=127.0.0.1:0", "PCS_HTTP=127.0.0.1:0",
		"PCS_OUT="+filepath.Join(work, "unused.parquet"), "PCS_NODE_ID=interop-1", "PCS_LOG_LEVEL=info")
	logFile, err := os.Create(filepath.Join(work, "pcs-node.log"))
	if err != nil {
		return "", nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	httpAddr := make(chan string, 1)
	var tail bytes.Buffer // the log's last lines, for a node that fails
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			fmt.Fprintf(logFile, "%s\n", line)
			if tail.Len() < 1<<16 {
				fmt.Fprintf(&tail, "%s\n", line)
			}
			// "node running ... http=ADDR" (text) or {"msg":"node running","http":"ADDR"} (json).
			if m := running.FindSubmatch(line); m != nil {
				httpAddr <- string(m[1])
			}
		}
	}()
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
	}
	var addr string
	select {
	case addr = <-httpAddr:
	case <-exited:
		return "", nil, fmt.Errorf("pcs-node exited: %s", lastLine(tail.String()))
	case <-time.After(60 * time.Second):
		stop()
		return "", nil, fmt.Errorf("pcs-node not running after 60s: %s", lastLine(tail.String()))
	case <-ctx.Done():
		stop()
		return "", nil, ctx.Err()
	}
	var status struct {
		Broker string `json:"broker"`
	}
	resp, err := http.Get("http://" + addr + "/v1/status")
	if err == nil {
		err = json.NewDecoder(resp.Body).Decode(&status)
		resp.Body.Close()
	}
	if err == nil && status.Broker == "" {
		err = errors.New(`no "broker" in /v1/status`)
	}
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("pcs-node status at %s: %w", addr, err)
	}
	return status.Broker, stop, nil
}

// waitProcessed waits until the input stream (a work queue: a partition
// leaves it once the node acked it, after storing its outputs) is empty.
func waitProcessed(ctx context.Context, js jetstream.JetStream) error {
	deadline := time.Now().Add(15 * time.Minute)
	for {
		n, err := streamMsgs(ctx, js, streamIn)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d partitions still in %s after 15 minutes", n, streamIn)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func streamMsgs(ctx context.Context, js jetstream.JetStream, name string) (uint64, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// summary parses a pcs summary line: the first group as text, the second as a count.
func summary(pattern string, out []byte) (string, int64, error) {
	m := regexp.MustCompile(pattern).FindSubmatch(out)
	if m == nil {
		return "", 0, fmt.Errorf("no summary line %q in %q", pattern, out)
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(string(m[2]), ",", ""), 10, 64)
	return strings.ReplaceAll(string(m[1]), ",", ""), n, err
}

func lastJSON(out []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return lines[len(lines)-1]
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}
