package catalogtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pcs-dev/pcs/node/catalog"
)

// LogEnv names the environment variable that, when set, sends the
// catalogs' and Raft's log lines (debug and up) to stderr; by default they
// are discarded.
const LogEnv = "CATALOG_TEST_LOG"

// Timeouts of the waits in this package.
const (
	// OpenTimeout bounds one Open (bootstrap or join).
	OpenTimeout = 15 * time.Second
	// WaitTimeout bounds Start's wait for all members, Leader and
	// Converged.
	WaitTimeout = 10 * time.Second
)

// Logger returns the logger Config sets: discarding, or debug lines to
// stderr when LogEnv is set.
func Logger() *slog.Logger {
	if os.Getenv(LogEnv) != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Config returns a catalog.Config of node id tuned for fast tests: Dir is a
// fresh t.TempDir, BindAddr a loopback port that was free just now (kept
// across restarts), Raft's timeouts are 200 ms, nodes heartbeat every 100
// ms, dead nodes are never removed (DeadNodeTimeout -1), snapshots happen
// only when asked, WAL segments are 1 MiB, and logs go to Logger (Raft's
// own at Info with LogEnv set, otherwise none).
func Config(t testing.TB, id string) catalog.Config {
	t.Helper()
	cfg := catalog.DefaultConfig()
	cfg.NodeID = id
	cfg.Dir = t.TempDir()
	cfg.BindAddr = freeAddr(t)
	cfg.HeartbeatTimeout = 200 * time.Millisecond
	cfg.ElectionTimeout = 200 * time.Millisecond
	cfg.LeaderLeaseTimeout = 100 * time.Millisecond
	cfg.HeartbeatInterval = 100 * time.Millisecond
	cfg.DeadNodeTimeout = -1
	cfg.ApplyTimeout = 10 * time.Second
	cfg.ForwardTimeout = 2 * time.Second
	cfg.WALSegmentSize = 1 << 20
	cfg.SnapshotInterval = time.Hour
	cfg.Logger = Logger()
	if os.Getenv(LogEnv) != "" {
		cfg.RaftLogLevel = slog.LevelInfo
	} else {
		cfg.RaftLogLevel = slog.LevelError + 4
	}
	return cfg
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Open opens a catalog with cfg and fwd, failing t if it does not open
// within OpenTimeout, and shuts it down (Shutdown, not a graceful leave)
// when t ends.
func Open(t testing.TB, cfg catalog.Config, fwd catalog.Forwarder) *catalog.Catalog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), OpenTimeout)
	defer cancel()
	c, err := catalog.Open(ctx, cfg, fwd)
	if err != nil {
		t.Fatalf("catalogtest: open %s: %v", cfg.NodeID, err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	return c
}

// Option changes how Start builds a cluster.
type Option func(*options)

type options struct {
	tcp        bool
	forwarders func(t testing.TB, nodeID string) catalog.Forwarder
	configs    []func(i int, cfg *catalog.Config)
}

// WithTCP runs Raft over loopback TCP, each node on the BindAddr Config
// chose, instead of raft.InmemTransport. Raft links over TCP cannot be
// cut: Isolate and IsolateRaft then fail the test.
func WithTCP() Option { return func(o *options) { o.tcp = true } }

// WithForwarders makes each node's Forwarder with f, called at every Open
// (restarts included) with the test and the node id, instead of taking it
// from the cluster's MemoryNetwork. What f opens for a node and releases
// with t.Cleanup is released after that node has shut down. Isolate then
// cuts Raft only.
func WithForwarders(f func(t testing.TB, nodeID string) catalog.Forwarder) Option {
	return func(o *options) { o.forwarders = f }
}

// WithConfig lets f change node i's Config (as built by Config, with
// Bootstrap set on node 0) before the first Open; the change is kept for
// restarts. f may set NodeID if it keeps the ids distinct.
func WithConfig(f func(i int, cfg *catalog.Config)) Option {
	return func(o *options) { o.configs = append(o.configs, f) }
}

// Cluster is a catalog Raft group of n nodes inside the test process.
// Node i has id "n<i+1>" unless WithConfig changed it; node 0 bootstraps.
// Its methods are meant for the test's goroutine.
type Cluster struct {
	opts  options
	net   *catalog.MemoryNetwork
	cfgs  []catalog.Config
	nodes []*catalog.Catalog
	trans []*raft.InmemTransport // nil with WithTCP
	cut   []bool                 // Raft links cut by Isolate/IsolateRaft
}

// Start opens n catalogs, node 0 first (it bootstraps), the others one
// after the other (each joins through any member), then waits until the
// leader's Raft configuration holds all n servers, min(n, MaxVoters) of
// them voters, and its node table all n nodes. Every node is shut down
// (not left) when t ends. Start fails t if a node does not open within
// OpenTimeout or the members are not all there within WaitTimeout.
func Start(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("catalogtest: %d nodes", n)
	}
	c := &Cluster{
		net:   catalog.NewMemoryNetwork(),
		cfgs:  make([]catalog.Config, n),
		nodes: make([]*catalog.Catalog, n),
		cut:   make([]bool, n),
	}
	for _, o := range opts {
		o(&c.opts)
	}
	if !c.opts.tcp {
		c.trans = make([]*raft.InmemTransport, n)
	}
	for i := range n {
		cfg := Config(t, fmt.Sprintf("n%d", i+1))
		cfg.Bootstrap = i == 0
		for _, f := range c.opts.configs {
			f(i, &cfg)
		}
		c.cfgs[i] = cfg
	}
	for i := range n {
		c.open(t, i)
	}
	voters := min(n, c.cfgs[0].MaxVoters)
	WaitFor(t, WaitTimeout, fmt.Sprintf("%d servers (%d voters) and %d nodes in the node table", n, voters, n), func() bool {
		l := leaderNow(c.nodes)
		if l == nil {
			return false
		}
		st := l.Status()
		return len(st.Servers) == n && len(st.Voters()) == voters && len(st.Nodes) == n
	})
	return c
}

// open opens node i with its Config: on a new InmemTransport connected to
// every node whose links are not cut, or on TCP.
func (c *Cluster) open(t testing.TB, i int) {
	t.Helper()
	cfg := c.cfgs[i]
	if c.trans != nil {
		_, tr := raft.NewInmemTransport(raft.ServerAddress("inmem-" + cfg.NodeID))
		c.trans[i] = tr
		// The caller owns an injected transport: close it after the
		// Catalog (cleanups run last in, first out).
		t.Cleanup(func() { _ = tr.Close() })
		for j := range c.trans {
			if j != i {
				c.link(i, j)
			}
		}
		cfg.Transport = tr
	}
	var fwd catalog.Forwarder
	if c.opts.forwarders != nil {
		fwd = c.opts.forwarders(t, cfg.NodeID)
	} else {
		fwd = c.net.Forwarder(cfg.NodeID)
	}
	c.nodes[i] = Open(t, cfg, fwd)
}

// link connects the Raft transports of nodes i and j both ways, unless
// either is missing or cut off.
func (c *Cluster) link(i, j int) {
	a, b := c.trans[i], c.trans[j]
	if a == nil || b == nil || c.cut[i] || c.cut[j] {
		return
	}
	a.Connect(b.LocalAddr(), b)
	b.Connect(a.LocalAddr(), a)
}

// Nodes returns the current Catalog of every node, in order (a node shut
// down by the test stays in the list until Restart replaces it).
func (c *Cluster) Nodes() []*catalog.Catalog { return append([]*catalog.Catalog(nil), c.nodes...) }

// Node returns node i's current Catalog.
func (c *Cluster) Node(i int) *catalog.Catalog { return c.nodes[i] }

// Config returns node i's Config (without the injected Transport).
func (c *Cluster) Config(i int) catalog.Config { return c.cfgs[i] }

// Network returns the MemoryNetwork the nodes forward over, or nil with
// WithForwarders.
func (c *Cluster) Network() *catalog.MemoryNetwork {
	if c.opts.forwarders != nil {
		return nil
	}
	return c.net
}

// Leader waits until one of the nodes leads and returns it (see Leader).
func (c *Cluster) Leader(t testing.TB) *catalog.Catalog {
	t.Helper()
	return Leader(t, c.nodes...)
}

// Restart shuts node i down (without leaving; a no-op if the test already
// did, and an error of that shutdown is only logged: check it yourself if
// it matters) and opens it again with the same Config, directory and
// address, as a restarted process would: it keeps its Raft state, re-joins
// in the background and catches up. It returns the new Catalog, which also
// replaces the old one in Nodes.
func (c *Cluster) Restart(t testing.TB, i int) *catalog.Catalog {
	t.Helper()
	if err := c.nodes[i].Shutdown(); err != nil {
		t.Logf("catalogtest: shutdown %s before restart: %v", c.cfgs[i].NodeID, err)
	}
	c.open(t, i)
	return c.nodes[i]
}

// Isolate cuts node i off from the others: its Raft links (both ways)
// and, on the cluster's MemoryNetwork, its forwarding (see
// MemoryNetwork.Isolate). Heal undoes it. With WithTCP it fails t.
func (c *Cluster) Isolate(t testing.TB, i int) {
	t.Helper()
	c.IsolateRaft(t, i)
	c.net.Isolate(c.cfgs[i].NodeID)
}

// IsolateRaft cuts node i's Raft links only: forwarded requests still
// reach and leave it. Heal undoes it. With WithTCP it fails t.
func (c *Cluster) IsolateRaft(t testing.TB, i int) {
	t.Helper()
	if c.trans == nil {
		t.Fatal("catalogtest: Raft over TCP cannot be cut; start the cluster without WithTCP")
	}
	c.cut[i] = true
	for j, tr := range c.trans {
		if j != i && tr != nil {
			c.trans[i].Disconnect(tr.LocalAddr())
			tr.Disconnect(c.trans[i].LocalAddr())
		}
	}
}

// Heal reconnects node i after Isolate or IsolateRaft.
func (c *Cluster) Heal(i int) {
	c.net.Heal(c.cfgs[i].NodeID)
	if c.trans == nil {
		return
	}
	c.cut[i] = false
	for j := range c.trans {
		if j != i {
			c.link(i, j)
		}
	}
}

// WaitFor polls cond every 10 ms until it holds, failing t after timeout
// with a message naming what it waited for.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Leader waits up to WaitTimeout until one of nodes is the Raft leader and
// returns it. A node cut off while leading may still believe it leads for
// a moment: pass the nodes that can elect one.
func Leader(t testing.TB, nodes ...*catalog.Catalog) *catalog.Catalog {
	t.Helper()
	var l *catalog.Catalog
	WaitFor(t, WaitTimeout, "a leader", func() bool {
		l = leaderNow(nodes)
		return l != nil
	})
	return l
}

// leaderNow returns the first of nodes that leads now, or nil.
func leaderNow(nodes []*catalog.Catalog) *catalog.Catalog {
	for _, n := range nodes {
		if n.IsLeader() {
			return n
		}
	}
	return nil
}

// Converged waits up to WaitTimeout until all nodes hold the same FSM
// state (Catalog.Hash) and returns its hash.
func Converged(t testing.TB, nodes ...*catalog.Catalog) uint64 {
	t.Helper()
	var h uint64
	WaitFor(t, WaitTimeout, "identical FSM state on all nodes", func() bool {
		h = nodes[0].Hash()
		for _, n := range nodes[1:] {
			if n.Hash() != h {
				return false
			}
		}
		return true
	})
	return h
}
