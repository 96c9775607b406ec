package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/examples/internal/process"
	"github.com/pcs-dev/pcs/examples/internal/rowid"
	"github.com/pcs-dev/pcs/node"
)

// Names fixed by fleet.toml.
const (
	pipeline    = "flights"
	inSubject   = "flights.raw"
	outSubject  = "flights.enriched"
	inStream    = "PCS_FLIGHTS_IN" // the node's default: PCS_<NAME>_IN
	rowIDColumn = rowid.Column
)

// Bounds of the waits.
const (
	startTimeout   = 60 * time.Second // a process until ready
	stopTimeout    = 20 * time.Second // a process after SIGTERM
	processTimeout = 5 * time.Minute  // the whole input
)

// build compiles pcs and pcs-node into bin.
func build(ctx context.Context, repo, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./cmd/pcs", "./cmd/pcs-node")
	cmd.Dir, cmd.Stdout, cmd.Stderr = repo, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// member is one pcs-node of the fleet and its per-node values.
type member struct {
	id, http, raft, dir string
	bootstrap           bool
	p                   *process.Process
}

// fleet is the broker and the three nodes.
type fleet struct {
	bin, work, config, airports string

	server  string // the broker's client URL
	broker  *process.Process
	nodes   []*member
	leader  string   // at start
	voters  []string // at start
	ackWait time.Duration

	nc   *nats.Conn
	cons jetstream.Consumer // the pipeline's durable consumer (shared by the fleet)
	used map[string]bool    // addresses handed out
}

// start runs the broker, then n1 (bootstrap), then n2 and n3 (join), and
// waits until the catalog has three voters.
func (f *fleet) start(ctx context.Context) error {
	addr := f.freeAddr()
	f.server = "nats://" + addr
	var err error
	f.broker, err = process.Start("pcs broker", filepath.Join(f.work, "broker.log"), nil, nil, filepath.Join(f.bin, "pcs"),
		"broker", "--store", filepath.Join(f.work, "broker"), "--listen", addr)
	if err != nil {
		return err
	}
	if f.nc, err = waitConnect(ctx, f.server, f.broker); err != nil {
		return err
	}
	for i := 1; i <= 3; i++ {
		f.nodes = append(f.nodes, &member{id: fmt.Sprintf("n%d", i), http: f.freeAddr(), raft: f.freeAddr(),
			dir: filepath.Join(f.work, fmt.Sprintf("n%d", i)), bootstrap: i == 1})
	}
	// n1 forms the catalog; the others join it through NATS.
	if err := f.startNode(ctx, f.nodes[0]); err != nil {
		return err
	}
	errs := make(chan error, 2)
	for _, m := range f.nodes[1:] {
		go func() { errs <- f.startNode(ctx, m) }()
	}
	if err := errors.Join(<-errs, <-errs); err != nil {
		return err
	}
	st, err := waitStatus(ctx, f.nodes[0], func(st node.Status) bool {
		return st.Catalog != nil && st.Catalog.Leader != "" && len(st.Catalog.Voters()) == 3 && len(st.Catalog.Nodes) == 3
	})
	if err != nil {
		return fmt.Errorf("the catalog did not form three voters: %w", err)
	}
	f.leader, f.voters = st.Catalog.Leader, st.Catalog.Voters()
	slices.Sort(f.voters)

	js, err := jetstream.New(f.nc)
	if err != nil {
		return err
	}
	if f.cons, err = js.Consumer(ctx, inStream, pipeline); err != nil {
		return fmt.Errorf("the pipeline's consumer: %w", err)
	}
	info, err := f.cons.Info(ctx)
	if err != nil {
		return err
	}
	f.ackWait = info.Config.AckWait
	return nil
}

// startNode starts one pcs-node with its values and waits until it is
// ready (connected, catalog open with a leader, consuming).
func (f *fleet) startNode(ctx context.Context, m *member) error {
	env := []string{
		"PCS_NODE_ID=" + m.id, "PCS_HTTP=" + m.http, "PCS_SERVER=" + f.server, "PCS_DIR=" + m.dir,
		"PCS_RAFT=" + m.raft, "PCS_BOOTSTRAP=" + strconv.FormatBool(m.bootstrap), "PCS_AIRPORTS=" + f.airports,
	}
	p, err := process.Start("pcs-node "+m.id, filepath.Join(f.work, m.id+".log"), env, nil, filepath.Join(f.bin, "pcs-node"), "--config", f.config)
	if err != nil {
		return err
	}
	m.p = p
	if err := waitReady(ctx, "http://"+m.http+"/readyz", p); err != nil {
		return fmt.Errorf("pcs-node %s did not get ready (log %s): %w", m.id, p.Log, err)
	}
	return nil
}

// publishing is the background `pcs publish`.
type publishing struct {
	done chan struct{} // closed when it ended
	publishResult
}

type publishResult struct {
	line       string // its summary line
	partitions int64
	err        error
}

var publishedRE = regexp.MustCompile(`^published (\d+) partitions?, `)

// publish runs `pcs publish --row-id row_id` of the input file.
func (f *fleet) publish(ctx context.Context, file string, batchRows int) publishResult {
	var out bytes.Buffer
	err := f.pcs(ctx, &out, "publish", "--server", f.server, "--subject", inSubject, "--row-id", rowIDColumn,
		"--batch-rows", strconv.Itoa(batchRows), "--quiet", file)
	if err != nil {
		return publishResult{err: err}
	}
	m := publishedRE.FindStringSubmatch(out.String())
	if m == nil {
		return publishResult{err: fmt.Errorf("pcs publish: no summary line in %q", out.String())}
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return publishResult{line: out.String(), partitions: n}
}

// consume reads the sink subject into a Parquet file with `pcs consume`
// and returns its summary line.
func (f *fleet) consume(ctx context.Context, file string) (string, error) {
	var out bytes.Buffer
	err := f.pcs(ctx, &out, "consume", "--server", f.server, "--subject", outSubject, "--quiet", "--out", file)
	return out.String(), err
}

var consumedRE = regexp.MustCompile(`^consumed (\d+) partitions?, ([\d,]+) rows`)

func parseConsumed(line string) (partitions, rows int64, err error) {
	m := consumedRE.FindStringSubmatch(line)
	if m == nil {
		return 0, 0, fmt.Errorf("pcs consume: no summary line in %q", line)
	}
	partitions, _ = strconv.ParseInt(m[1], 10, 64)
	rows, _ = strconv.ParseInt(strings.ReplaceAll(m[2], ",", ""), 10, 64)
	return partitions, rows, nil
}

// pcs runs the pcs CLI, its stdout to out.
func (f *fleet) pcs(ctx context.Context, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(f.bin, "pcs"), args...)
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pcs %s: %w", args[0], err)
	}
	return nil
}

// errTooLate is killWhen's error when the input was processed before a
// node could be killed with partitions in flight.
var errTooLate = errors.New("the input was fully processed before a node could be killed mid-run: use a smaller -batch-rows or -kill-at")

// killed is what killWhen did.
type killed struct {
	node     *member
	at       time.Time // when SIGKILL was sent
	floor    uint64    // the consumer's highest delivered stream sequence just after the kill
	done     int64     // partitions done in the catalog
	nodeDone int64     // partitions the killed node had processed
	inFlight int64     // partitions in flight on the killed node
}

// killWhen waits until the catalog has at least threshold partitions done
// and a follower (not the catalog's leader; with leader, the leader) has
// partitions in flight, then kills that node with SIGKILL.
func (f *fleet) killWhen(ctx context.Context, threshold int64, leader bool, pub *publishing) (killed, error) {
	leaderNode := f.member(f.leader)
	if leaderNode == nil {
		return killed{}, fmt.Errorf("the leader %q is not a node of the fleet", f.leader)
	}
	deadline := time.Now().Add(processTimeout)
	lastCheck := time.Now()
	var reached time.Time // when the catalog reached threshold
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return killed{}, err
		}
		select {
		case <-pub.done:
			if pub.err != nil {
				return killed{}, pub.err
			}
		default:
		}
		st, err := getStatus(ctx, leaderNode)
		if err == nil && st.Catalog != nil {
			ps, _ := st.Catalog.Pipeline(pipeline)
			if ps.Counters.Done >= threshold {
				if reached.IsZero() {
					reached = time.Now()
				}
				// Prefer a node with two partitions in flight (the
				// fleet.toml max_in_flight): both finishing between this
				// scrape and the kill is unlikely. After a second, one will
				// do.
				want := int64(2)
				if time.Since(reached) > time.Second {
					want = 1
				}
				for _, m := range f.nodes {
					if (m.id == st.Catalog.Leader) != leader {
						continue
					}
					mt, err := scrape(ctx, m)
					if err != nil || mt.inFlight < want || mt.processed < 1 {
						continue
					}
					k := killed{node: m, at: time.Now(), done: ps.Counters.Done, nodeDone: mt.processed, inFlight: mt.inFlight}
					m.p.Kill()
					// What the server delivered up to the kill: anything
					// delivered to the dead connection is at or below it.
					time.Sleep(100 * time.Millisecond)
					info, err := f.cons.Info(ctx)
					if err != nil {
						return k, err
					}
					k.floor = info.Delivered.Stream
					return k, nil
				}
			}
		}
		if time.Since(lastCheck) > 50*time.Millisecond {
			lastCheck = time.Now()
			select {
			case <-pub.done:
				if info, err := f.cons.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
					return killed{}, errTooLate
				}
			default:
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return killed{}, errors.New("timeout waiting for the moment to kill a node")
}

// waitRecovered waits until the consumer's ack floor reaches every stream
// sequence delivered before the kill: the killed node's partitions were
// redelivered and acked by another node. It returns the time since the
// SIGKILL (to within the 10 ms poll).
func (f *fleet) waitRecovered(ctx context.Context, k killed) (time.Duration, error) {
	deadline := time.Now().Add(processTimeout)
	for time.Now().Before(deadline) {
		info, err := f.cons.Info(ctx)
		if err == nil && info.AckFloor.Stream >= k.floor {
			return time.Since(k.at), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("the partitions delivered before the kill were not all acked within %v", processTimeout)
}

// restart starts the killed node again (same directory: it rejoins with
// its Raft state) and waits until it is ready.
func (f *fleet) restart(ctx context.Context, m *member) error {
	return f.startNode(ctx, m)
}

// waitProcessed waits for the publish and then until the consumer has
// nothing pending or unacked; it returns the redeliveries (deliveries
// beyond one per stream message).
func (f *fleet) waitProcessed(ctx context.Context) (uint64, error) {
	deadline := time.Now().Add(processTimeout)
	for time.Now().Before(deadline) {
		info, err := f.cons.Info(ctx)
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			return info.Delivered.Consumer - info.Delivered.Stream, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("the input was not fully processed within %v", processTimeout)
}

// converged waits until every node's copy of the catalog has done
// partitions done, and returns the status of the last node asked.
func (f *fleet) converged(ctx context.Context, done int64) (node.Status, error) {
	var st node.Status
	var last []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ok := true
		last = last[:0]
		for _, m := range f.nodes {
			s, err := getStatus(ctx, m)
			if err != nil || s.Catalog == nil {
				ok = false
				last = append(last, fmt.Sprintf("%s: %v", m.id, err))
				continue
			}
			ps, _ := s.Catalog.Pipeline(pipeline)
			last = append(last, fmt.Sprintf("%s: %d done", m.id, ps.Counters.Done))
			ok = ok && ps.Counters.Done == done && len(s.Catalog.Voters()) == 3
			st = s
		}
		if ok {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return st, fmt.Errorf("the nodes' catalogs did not reach %d done partitions with 3 voters: %s", done, strings.Join(last, "; "))
}

// stopAll stops the nodes one after the other (each leaves the catalog),
// then the broker.
func (f *fleet) stopAll() error {
	var errs []error
	for i := len(f.nodes) - 1; i >= 0; i-- {
		errs = append(errs, f.nodes[i].p.Terminate(stopTimeout))
	}
	if f.nc != nil {
		f.nc.Close()
	}
	errs = append(errs, f.broker.Terminate(stopTimeout))
	return errors.Join(errs...)
}

// stop kills whatever still runs (after an error).
func (f *fleet) stop() {
	for _, m := range f.nodes {
		m.p.Kill()
	}
	if f.nc != nil {
		f.nc.Close()
	}
	f.broker.Kill()
}

func (f *fleet) member(id string) *member {
	for _, m := range f.nodes {
		if m.id == id {
			return m
		}
	}
	return nil
}

// freeAddr returns a loopback address with a port that was free a moment
// ago and that this fleet has not handed out before (the addresses are
// chosen before the processes bind them, and the kernel may offer a port
// again once its probe is closed).
func (f *fleet) freeAddr() string {
	if f.used == nil {
		f.used = map[string]bool{}
	}
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !f.used[addr] {
			f.used[addr] = true
			return addr
		}
	}
}

// waitConnect connects to the broker once it accepts clients.
func waitConnect(ctx context.Context, url string, p *process.Process) (*nats.Conn, error) {
	deadline := time.Now().Add(startTimeout)
	for {
		nc, err := nats.Connect(url, nats.Name("fleet driver"), nats.Timeout(time.Second))
		if err == nil {
			return nc, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the broker at %s did not accept clients (log %s): %w", url, p.Log, err)
		}
		select {
		case <-p.Done():
			return nil, fmt.Errorf("the broker exited: %v (log %s)", p.Err(), p.Log)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func waitReady(ctx context.Context, url string, p *process.Process) error {
	client := http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("exited: %v", p.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("timeout")
}

// getStatus reads a node's GET /v1/status.
func getStatus(ctx context.Context, m *member) (node.Status, error) {
	var st node.Status
	body, err := get(ctx, "http://"+m.http+"/v1/status")
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(body, &st)
	return st, err
}

// waitStatus polls a node's status until ok.
func waitStatus(ctx context.Context, m *member, ok func(node.Status) bool) (node.Status, error) {
	var st node.Status
	var err error
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		st, err = getStatus(ctx, m)
		if err == nil && ok(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err == nil {
		err = errors.New("timeout")
	}
	return st, err
}

// nodeMetrics are the pipeline's counters a node exports.
type nodeMetrics struct {
	processed, inFlight int64
}

// scrape reads a node's /metrics.
func scrape(ctx context.Context, m *member) (nodeMetrics, error) {
	var mt nodeMetrics
	body, err := get(ctx, "http://"+m.http+"/metrics")
	if err != nil {
		return mt, err
	}
	label := `{pipeline="` + pipeline + `"} `
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for name, dst := range map[string]*int64{"pcs_partitions_processed_total": &mt.processed, "pcs_in_flight": &mt.inFlight} {
			if v, ok := strings.CutPrefix(line, name+label); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err == nil {
					*dst = int64(f)
				}
			}
		}
	}
	return mt, sc.Err()
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

func joinIDs(ids []string) string { return strings.Join(ids, ", ") }
