package main

import (
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
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/examples/internal/process"
	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Names fixed by chaos.toml.
const (
	pipeline   = "chaos"
	inSubject  = "chaos.in"
	outSubject = "chaos.out"
	inStream   = "PCS_CHAOS_IN"
	outStream  = "PCS_CHAOS_OUT"
	// dupWindow is the sink's duplicate window: the suite pre-creates the
	// output stream with it (2 min by default), so that a pause or a
	// quorum loss of a few seconds outlasts it, as TestPausedNodePublishesNothing does.
	dupWindow    = time.Second
	startTimeout = 60 * time.Second
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

// member is one pcs-node.
type member struct {
	id, http, raft, dir string
	bootstrap           bool
	wrap                []string                        // a command prefix (ip netns exec NS in the network rows)
	cur                 atomic.Pointer[process.Process] // the current process (restarts replace it)
}

// p returns the member's current process (nil before the first start).
func (m *member) p() *process.Process { return m.cur.Load() }

// fleet is a broker and three nodes in a work directory.
type fleet struct {
	bin, work, config, key string
	brokerAddr, server     string
	broker                 *process.Process
	nodes                  []*member
	nc                     *nats.Conn
	js                     jetstream.JetStream
	lab                    *lab   // the network rows: each node in its namespace
	storeMiB               int    // the store-full row: the broker's store on a tmpfs this big
	mount                  string // that tmpfs
}

// freeAddr returns a loopback address whose port was free just now.
func freeAddr(host string) string {
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (f *fleet) startBroker(ctx context.Context) error {
	var err error
	args := []string{"broker", "--store", filepath.Join(f.work, "broker"), "--listen", f.brokerAddr}
	if f.mount != "" {
		args[2] = filepath.Join(f.mount, "store")
	}
	if f.lab != nil { // the bridge's address: reachable from this machine's namespaces only
		args = append(args, "--allow-no-auth")
	}
	f.broker, err = process.Start("pcs broker", filepath.Join(f.work, "broker.log"), nil, nil, filepath.Join(f.bin, "pcs"), args...)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	if f.nc != nil { // a restart: the driver's connection reconnects by itself
		return waitUntil(ctx, startTimeout, "the driver reconnected to the broker", f.nc.IsConnected)
	}
	for {
		nc, err := nats.Connect(f.server, nats.Name("chaos driver"), nats.Timeout(time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err == nil {
			f.nc = nc
			f.js, err = jetstream.New(nc)
			return err
		}
		if time.Now().After(deadline) || f.broker.Exited() {
			return fmt.Errorf("the broker did not accept clients (log %s): %w", f.broker.Log, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// start runs the broker, pre-creates the sink with a short duplicate
// window, then starts n1 (bootstrap), n2 and n3.
func (f *fleet) start(ctx context.Context) error {
	f.brokerAddr = freeAddr("127.0.0.1")
	maxBytes := int64(1 << 30)
	if f.storeMiB > 0 {
		maxBytes = 4 << 20 // a reservation of 1 GiB would not fit the store
	}
	if f.lab != nil {
		f.brokerAddr = freeAddr(f.lab.hostIP)
	}
	if f.storeMiB > 0 {
		f.mount = filepath.Join(f.work, "tmpfs")
		if err := os.MkdirAll(f.mount, 0o755); err != nil {
			return err
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", f.storeMiB), "pcs-chaos", f.mount).CombinedOutput(); err != nil {
			f.mount = ""
			return fmt.Errorf("mount a tmpfs: %v: %s", err, out)
		}
	}
	f.server = "nats://" + f.brokerAddr
	f.key = filepath.Join(f.work, "fleet.key")
	if err := os.WriteFile(f.key, []byte(strconv.FormatInt(time.Now().UnixNano(), 16)+"chaos-fleet-key-0123456789abcdef\n"), 0o600); err != nil {
		return err
	}
	if err := f.startBroker(ctx); err != nil {
		return err
	}
	if _, err := f.js.CreateStream(ctx, jetstream.StreamConfig{Name: outStream, Subjects: []string{outSubject, natsjs.FenceSubjects(natsjs.FencePrefix(pipeline, "out"))},
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardNew, MaxBytes: maxBytes, Duplicates: dupWindow, AllowAtomicPublish: true}); err != nil {
		return fmt.Errorf("pre-create the sink: %w", err)
	}
	for i := range 3 {
		m := &member{id: fmt.Sprintf("n%d", i+1), http: freeAddr("127.0.0.1"), raft: freeAddr("127.0.0.1"),
			dir: filepath.Join(f.work, fmt.Sprintf("n%d", i+1)), bootstrap: i == 0}
		if f.lab != nil { // a fresh namespace: every port is free
			m.http, m.raft, m.wrap = f.lab.ip[i]+":9464", f.lab.ip[i]+":7400", f.lab.wrap(i)
		}
		f.nodes = append(f.nodes, m)
	}
	return nil
}

// startNodes starts the nodes (n1 first when it bootstraps a new catalog)
// and waits until the catalog has three voters known to every node.
func (f *fleet) startNodes(ctx context.Context) error {
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
	return f.waitVoters(ctx, 3, startTimeout)
}

func (f *fleet) startNode(ctx context.Context, m *member) error {
	env := []string{"PCS_NODE_ID=" + m.id, "PCS_HTTP=" + m.http, "PCS_SERVER=" + f.server, "PCS_DIR=" + m.dir,
		"PCS_RAFT=" + m.raft, "PCS_BOOTSTRAP=" + strconv.FormatBool(m.bootstrap), "PCS_KEY_FILE=" + f.key, "PCS_OUT_MAX_BYTES=" + f.outMax()}
	p, err := process.Start("pcs-node "+m.id, filepath.Join(f.work, m.id+".log"), env, m.wrap, filepath.Join(f.bin, "pcs-node"), "--config", f.config)
	if err != nil {
		return err
	}
	m.cur.Store(p)
	client := http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		if resp, err := client.Get("http://" + m.http + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("pcs-node %s exited: %v (log %s)", m.id, p.Err(), p.Log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("pcs-node %s did not get ready (log %s)", m.id, p.Log)
}

// waitVoters waits until every running node knows a leader and n voters.
func (f *fleet) waitVoters(ctx context.Context, n int, d time.Duration) error {
	return waitUntil(ctx, d, fmt.Sprintf("%d voters and a leader on every node", n), func() bool {
		for _, m := range f.nodes {
			st, err := status(ctx, m)
			if err != nil || st.Catalog == nil || st.Catalog.Leader == "" || len(st.Catalog.Voters()) != n {
				return false
			}
		}
		return true
	})
}

// leader returns the member the first answering node names as leader.
func (f *fleet) leader(ctx context.Context) (*member, error) {
	var l *member
	err := waitUntil(ctx, 30*time.Second, "a leader", func() bool {
		for _, m := range f.nodes {
			if st, err := status(ctx, m); err == nil && st.Catalog != nil && st.Catalog.Leader != "" {
				for _, x := range f.nodes {
					if x.id == st.Catalog.Leader {
						l = x
						return true
					}
				}
			}
		}
		return false
	})
	return l, err
}

// index returns m's position in the fleet (its namespace in a lab).
func (f *fleet) index(m *member) int {
	for i, x := range f.nodes {
		if x == m {
			return i
		}
	}
	return -1
}

// follower returns a running member that is not the leader.
func (f *fleet) follower(ctx context.Context) (*member, error) {
	l, err := f.leader(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range f.nodes {
		if m != l {
			return m, nil
		}
	}
	return nil, errors.New("no follower")
}

func (f *fleet) stop() {
	for _, m := range f.nodes {
		m.p().Kill()
	}
	f.broker.Kill()
	if f.nc != nil {
		f.nc.Close()
	}
	if f.mount != "" {
		_ = exec.Command("umount", f.mount).Run()
	}
}

// status reads a node's /v1/status.
func status(ctx context.Context, m *member) (node.Status, error) {
	var st node.Status
	if p := m.p(); p == nil || p.Exited() {
		return st, errors.New("not running")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.http+"/v1/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(body, &st)
}

// done returns the most partitions done that any running node's catalog
// reports.
func (f *fleet) done(ctx context.Context) int64 {
	var best int64
	for _, m := range f.nodes {
		if st, err := status(ctx, m); err == nil && st.Catalog != nil {
			if ps, ok := st.Catalog.Pipeline(pipeline); ok {
				best = max(best, ps.Counters.Done)
			}
		}
	}
	return best
}

func waitUntil(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	for deadline := time.Now().Add(d); ; {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", d, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// outMax is the sink's max_bytes (PCS_OUT_MAX_BYTES of chaos.toml),
// equal to the pre-created sink's.
func (f *fleet) outMax() string {
	if f.storeMiB > 0 {
		return "4MiB"
	}
	return "1GiB"
}
