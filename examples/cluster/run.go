package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pcs-dev/pcs/examples/internal/rowid"
)

// build compiles pcs, pcs-node and nats-server (from the nats-server
// module at the version go.mod requires) into bin.
func build(ctx context.Context, repo, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./cmd/pcs", "./cmd/pcs-node", "github.com/nats-io/nats-server/v2")
	cmd.Dir, cmd.Stdout, cmd.Stderr = repo, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
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
	work, err := os.MkdirTemp("", "pcs-cluster-")
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

	dir := filepath.Join(o.repo, "examples", "cluster")
	t := &topology{bin: o.bin, work: work, config: filepath.Join(dir, "cluster.toml"), natsConf: filepath.Join(dir, "nats.conf"), airports: o.airports}
	defer t.stop()
	if err := t.setup(); err != nil {
		return res, err
	}
	if err := t.start(ctx); err != nil {
		return res, err
	}
	leader, err := t.inputLeader(ctx)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "cluster:     nats-server x3 (JetStream, TLS on clients and routes, a user per client); input stream R3 led by %s;\n", leader.name)
	fmt.Fprintf(out, "             pcs-node n1, n2, n3 (Raft catalog over mutual TLS, HTTP bearer token)\n")
	if err := t.catalogClosed(); err != nil {
		return res, fmt.Errorf("the catalog's subjects are open to clients: %w", err)
	}
	fmt.Fprintf(out, "             the publisher and the sink reader may neither publish nor subscribe to pcs.catalog.>\n")

	// Publish in the background, sample the catalog's done count for the
	// stall, and kill at a quarter (the input's leader server) and at a
	// half (a pcs-node) of the partitions done.
	wantParts := (in.Rows + int64(o.batchRows) - 1) / int64(o.batchRows)
	start := time.Now()
	var pubOut bytes.Buffer
	pubErr := make(chan error, 1)
	var pubRetry string // the error that made the publish run again
	go func() {
		for attempt := 1; ; attempt++ {
			pubOut.Reset()
			err := t.pcs(ctx, &pubOut, "publisher", "publish", "--server", t.urls, "--subject", inSubject, "--row-id", rowIDColumn,
				"--batch-rows", strconv.Itoa(o.batchRows), "--quiet", o.flights)
			// A publish in flight to the input stream's leader when it is
			// killed can fail with "no response from stream"; publishing
			// the file again is safe (the same message ids: the stream
			// drops what it has, the catalog skips what is done).
			if err == nil || attempt == 2 || !strings.Contains(err.Error(), "no response from stream") {
				pubErr <- err
				return
			}
			pubRetry = err.Error()
		}
	}()
	var st stall
	sampled := make(chan struct{})
	sctx, stopSampling := context.WithCancel(ctx)
	go func() {
		defer close(sampled)
		for sctx.Err() == nil {
			if d, ok := t.done(sctx); ok {
				st.observe(d, time.Now())
				if os.Getenv("PCS_CLUSTER_TRACE") != "" {
					fmt.Fprintf(out, "trace: %s done %d %s\n", time.Now().Format("15:04:05.000"), d, t.consumerState(sctx))
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	defer func() { stopSampling(); <-sampled }()

	waitDone := func(n int64) error {
		for deadline := time.Now().Add(processTimeout); time.Now().Before(deadline); {
			if d, ok := t.done(ctx); ok && d >= n {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("the catalog did not reach %d done partitions", n)
	}
	// A pcs-node first, at a fifth of the partitions done (restarted in
	// the background: it rejoins the catalog), then the input stream's
	// leader server, at a quarter (restarted a second later). Both happen
	// while input is left, whatever the machine's speed.
	if err := waitDone(max(wantParts/5, 1)); err != nil {
		return res, err
	}
	victim := t.nodes[1]
	d, _ := t.done(ctx)
	victim.p.Kill()
	res.KilledNode = victim.id
	fmt.Fprintf(out, "kill:        SIGKILL pcs-node %s at %d of %d partitions done\n", victim.id, d, wantParts)
	rt := time.Now()
	restarted := make(chan error, 1)
	go func() { restarted <- t.startNode(ctx, victim) }()

	if err := waitDone(max(wantParts/4, d+1)); err != nil {
		return res, err
	}
	if leader, err = t.inputLeader(ctx); err != nil {
		return res, err
	}
	d, _ = t.done(ctx)
	leader.p.Kill()
	res.KilledServer = leader.name
	fmt.Fprintf(out, "kill:        SIGKILL %s (the input stream's leader) at %d of %d partitions done\n", leader.name, d, wantParts)
	time.Sleep(time.Second)
	if err := t.startServer(leader); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "restart:     %s (same store)\n", leader.name)
	if err := <-restarted; err != nil {
		return res, err
	}
	fmt.Fprintf(out, "restart:     pcs-node %s ready again in %v (it rejoined the catalog)", victim.id, time.Since(rt).Round(time.Millisecond))
	if victim.restarts > 0 {
		fmt.Fprintf(out, "; it exited %d time(s) during start-up while the NATS cluster elected leaders and was started again", victim.restarts)
	}
	fmt.Fprintln(out)

	if err := <-pubErr; err != nil {
		return res, err
	}
	m := publishedRE.FindStringSubmatch(pubOut.String())
	if m == nil {
		return res, fmt.Errorf("pcs publish: no summary line in %q", pubOut.String())
	}
	res.Partitions, _ = strconv.ParseInt(m[1], 10, 64)
	if err := waitDone(res.Partitions); err != nil {
		return res, err
	}
	res.Wall = time.Since(start)
	st.observe(res.Partitions, time.Now()) // the sampler may have missed the last growth
	stopSampling()
	<-sampled
	res.Stall = st.get()
	if pubRetry != "" {
		res.PublishRetries++
		fmt.Fprintf(out, "retry:       %s; published again\n", pubRetry)
	}
	fmt.Fprint(out, "publish:     ", pubOut.String())
	fmt.Fprintf(out, "processed:   %d rows in %v from the start of the publish (%.0f rows/s); longest stall %v\n",
		in.Rows, res.Wall.Round(time.Millisecond), float64(in.Rows)/res.Wall.Seconds(), res.Stall.Round(time.Millisecond))

	// Every node's catalog converged; its status saved for the leak check.
	if err := t.converged(ctx, res.Partitions, &res); err != nil {
		return res, err
	}
	// pcs status --json of every node, kept for the leak check.
	for _, m := range t.nodes {
		var js bytes.Buffer
		if err := t.pcs(ctx, &js, "admin", "status", "--url", "http://"+m.http, "--json"); err != nil {
			return res, err
		}
		if err := os.WriteFile(filepath.Join(work, m.id+"-pcs-status.json"), js.Bytes(), 0o644); err != nil {
			return res, err
		}
	}

	sink := filepath.Join(work, "sink.parquet")
	var cons bytes.Buffer
	for attempt := 1; ; attempt++ {
		cons.Reset()
		err := t.pcs(ctx, &cons, "consumer", "consume", "--server", t.urls, "--subject", outSubject, "--quiet", "--out", sink)
		if err == nil {
			break
		}
		// pcs consume's pull can find no responder for its new ordered
		// consumer right after a server restart (the interest has not
		// reached every server yet); it reads the sink from the start, so
		// running it again is safe.
		if attempt == 3 || !strings.Contains(err.Error(), "no responders") {
			return res, err
		}
		res.ConsumeRetries++
		fmt.Fprintf(out, "retry:       %v\n", err)
	}
	fmt.Fprint(out, "sink:        ", cons.String())
	cm := consumedRE.FindStringSubmatch(cons.String())
	if cm == nil {
		return res, fmt.Errorf("pcs consume: no summary line in %q", cons.String())
	}
	res.SinkPartitions, _ = strconv.ParseInt(cm[1], 10, 64)
	res.SinkRows, _ = strconv.ParseInt(strings.ReplaceAll(cm[2], ",", ""), 10, 64)
	c, err := rowid.CheckSink(ctx, sink, in)
	if err != nil {
		return res, err
	}
	res.Lost, res.Duplicates, res.Unexpected = c.Lost, c.Duplicates, c.Unexpected
	fmt.Fprintf(out, "row ids:     %d lost, %d duplicates, %d unexpected\n", c.Lost, c.Duplicates, c.Unexpected)
	fmt.Fprintf(out, "catalog:     %d partitions done, %d rows; sink: %d partitions, %d rows; published: %d partitions, %d rows\n",
		res.CatalogDone, res.CatalogRows, res.SinkPartitions, res.SinkRows, res.Partitions, in.Rows)

	stopErr := t.stopAll()
	if res.Leaks, err = leaks(work, t.secrets()); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "secrets:     %d of %d logs and status dumps hold a password or token\n", len(res.Leaks), countFiles(work))

	var errs []error
	if c.Lost != 0 || c.Duplicates != 0 || c.Unexpected != 0 || c.Rows != res.SinkRows {
		errs = append(errs, fmt.Errorf("the sink is not exactly once: %d lost, %d duplicates, %d unexpected row ids (%d rows in the file)", c.Lost, c.Duplicates, c.Unexpected, c.Rows))
	}
	if res.CatalogDone != res.SinkPartitions || res.CatalogDone != res.Partitions {
		errs = append(errs, fmt.Errorf("the catalog has %d partitions done, the sink %d, the input %d", res.CatalogDone, res.SinkPartitions, res.Partitions))
	}
	if res.CatalogRows != in.Rows || res.SinkRows != in.Expected {
		errs = append(errs, fmt.Errorf("rows: catalog %d (want %d), sink %d (want %d)", res.CatalogRows, in.Rows, res.SinkRows, in.Expected))
	}
	if len(res.Leaks) > 0 {
		errs = append(errs, fmt.Errorf("secrets in %s", strings.Join(res.Leaks, ", ")))
	}
	errs = append(errs, stopErr)
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	fmt.Fprintln(out, "verified:    0 lost, 0 duplicates; the catalog's done partitions and rows equal the sink's; no secret in logs or status")
	return res, nil
}

// converged waits until every node's catalog has done partitions done with
// three voters, and writes each node's status to <id>-status.json.
func (t *topology) converged(ctx context.Context, done int64, res *result) error {
	var last []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		ok := true
		last = last[:0]
		for _, m := range t.nodes {
			st, body, err := t.status(ctx, m)
			if err != nil || st.Catalog == nil {
				ok = false
				last = append(last, fmt.Sprintf("%s: %v", m.id, err))
				continue
			}
			ps, _ := st.Catalog.Pipeline(pipeline)
			last = append(last, fmt.Sprintf("%s: %d done", m.id, ps.Counters.Done))
			ok = ok && ps.Counters.Done == done && len(st.Catalog.Voters()) == 3
			res.CatalogDone, res.CatalogRows = ps.Counters.Done, ps.Counters.Rows
			_ = os.WriteFile(filepath.Join(t.work, m.id+"-status.json"), body, 0o644)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the nodes' catalogs did not reach %d done partitions with 3 voters: %s", done, strings.Join(last, "; "))
}

func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".log") || strings.HasSuffix(path, ".json")) {
			n++
		}
		return nil
	})
	return n
}
