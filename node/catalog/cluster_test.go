package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/zeebo/xxh3"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
)

// startBroker starts an in-process embedded NATS server (no TCP port).
func startBroker(t testing.TB) *broker.Broker {
	t.Helper()
	return brokertest.Start(t)
}

func testLogger() *slog.Logger {
	if os.Getenv("CATALOG_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// freeAddr returns a loopback address with a port that was free just now, so
// that a node keeps its address across restarts.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// testConfig is a fast config for loopback clusters.
func testConfig(t testing.TB, id string) Config {
	cfg := DefaultConfig()
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
	cfg.Logger = testLogger()
	if os.Getenv("CATALOG_TEST_LOG") != "" {
		cfg.RaftLogLevel = slog.LevelInfo
	} else {
		cfg.RaftLogLevel = slog.LevelError + 4
	}
	return cfg
}

// openNode opens a catalog of cluster "test" on its own NATS connection; the
// test's cleanup shuts it down.
func openNode(t testing.TB, b *broker.Broker, cfg Config) *Catalog {
	t.Helper()
	return openNodeIn(t, b, cfg, "test")
}

// openNodeIn is openNode for the named cluster.
func openNodeIn(t testing.TB, b *broker.Broker, cfg Config, cluster string) *Catalog {
	t.Helper()
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := Open(ctx, cfg, NewNATSForwarder(nc, cluster))
	if err != nil {
		nc.Close()
		t.Fatalf("Open %s: %v", cfg.NodeID, err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		nc.Close()
	})
	return c
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaderOf(t testing.TB, nodes ...*Catalog) *Catalog {
	t.Helper()
	var l *Catalog
	waitFor(t, 10*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if n.IsLeader() {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// sameState waits until all nodes hold the same state (and returns it).
func sameState(t testing.TB, nodes ...*Catalog) uint64 {
	t.Helper()
	var h uint64
	waitFor(t, 10*time.Second, "identical FSM state on all nodes", func() bool {
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

func suffrage(c *Catalog) map[string]string {
	out := map[string]string{}
	for _, s := range c.Status().Servers {
		out[s.ID] = s.Suffrage
	}
	return out
}

func done(pipeline string, i int, node string) PartitionRecord {
	return PartitionRecord{Pipeline: pipeline, ID: fmt.Sprintf("src/%d", i), Status: StatusDone, Subject: "in", StreamSeq: uint64(i), Rows: 10, Bytes: 100, Attempts: 1, Node: node, Time: time.Now()}
}

// TestClusterTCP: three nodes on loopback TCP with NATS forwarding:
// bootstrap and join, commands from followers, concurrent applies batched,
// idempotent re-apply, leader crash and re-election, restart and catch-up,
// graceful leave of the leader.
func TestClusterTCP(t *testing.T) {
	b := startBroker(t)
	cfgs := map[string]Config{}
	for _, id := range []string{"n1", "n2", "n3"} {
		cfgs[id] = testConfig(t, id)
	}
	c1 := cfgs["n1"]
	c1.Bootstrap = true
	cfgs["n1"] = c1
	nodes := map[string]*Catalog{}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = openNode(t, b, cfgs[id])
	}
	all := []*Catalog{nodes["n1"], nodes["n2"], nodes["n3"]}
	leader := leaderOf(t, all...)
	if leader != nodes["n1"] {
		t.Fatalf("leader %s, want the bootstrap node", leader.NodeID())
	}
	waitFor(t, 5*time.Second, "3 voters", func() bool { return len(leader.Status().Voters()) == 3 })
	waitFor(t, 5*time.Second, "3 nodes with heartbeats", func() bool { return len(leader.Status().Nodes) == 3 })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// From a follower: forwarded to the leader.
	if err := nodes["n2"].RecordPartitions(ctx, done("p", 1, "n2"), done("p", 2, "n2")); err != nil {
		t.Fatalf("RecordPartitions from follower: %v", err)
	}
	if !leader.IsDone("p", "src/1") {
		t.Fatal("leader does not have the follower's completion after Apply returned")
	}
	// Idempotent re-apply of the same command id.
	cmd := NewPartitionDone(done("p", 3, "n3"))
	cmd.ID = CommandID{Session: "test", Seq: 1}
	r1, err := nodes["n3"].Apply(ctx, cmd)
	if err != nil || !r1[0].Applied {
		t.Fatalf("first apply: %v %+v", err, r1)
	}
	r2, err := nodes["n3"].Apply(ctx, cmd)
	if err != nil || r2[0].Applied {
		t.Fatalf("second apply: %v %+v, want a no-op", err, r2)
	}
	// Invalid commands fail fast.
	if _, err := nodes["n2"].Apply(ctx, NewPartitionDone(PartitionRecord{})); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("invalid command: %v", err)
	}

	// Concurrent applies from every node, coalesced by the leader.
	before := leader.Raft().LastIndex()
	var wg sync.WaitGroup
	const workers, each = 16, 20
	errs := make(chan error, 3*workers*each)
	for _, n := range all {
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					errs <- n.RecordPartitions(ctx, done("q", (w*each+i)*10+int(n.NodeID()[1]-'0'), n.NodeID()))
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent apply: %v", err)
		}
	}
	entries := leader.Raft().LastIndex() - before
	t.Logf("%d concurrent completions in %d Raft entries", 3*workers*each, entries)
	sameState(t, all...)
	if ps, _ := leader.Status().Pipeline("q"); ps.Counters.Done != 3*workers*each {
		t.Fatalf("q done %d, want %d", ps.Counters.Done, 3*workers*each)
	}

	// Leader crash: the others elect a new leader; applies from a follower
	// go on.
	start := time.Now()
	_ = nodes["n1"].Shutdown()
	rest := []*Catalog{nodes["n2"], nodes["n3"]}
	newLeader := leaderOf(t, rest...)
	t.Logf("re-election after leader loss: %s, new leader %s", time.Since(start).Round(time.Millisecond), newLeader.NodeID())
	follower := nodes["n2"]
	if newLeader == follower {
		follower = nodes["n3"]
	}
	if err := follower.RecordPartitions(ctx, done("p", 4, follower.NodeID())); err != nil {
		t.Fatalf("apply after re-election: %v", err)
	}
	// The old leader restarts with its state and catches up.
	nodes["n1"] = openNode(t, b, cfgs["n1"])
	all = []*Catalog{nodes["n1"], nodes["n2"], nodes["n3"]}
	h := sameState(t, all...)
	if !nodes["n1"].IsDone("p", "src/4") {
		t.Fatal("restarted node did not catch up")
	}
	t.Logf("state hash %x on all three nodes", h)

	// Graceful leave of the leader: leadership moves, the server is
	// removed, the cluster goes on with two voters.
	leader = leaderOf(t, all...)
	if err := leader.Close(ctx); err != nil {
		t.Fatalf("Close (leave): %v", err)
	}
	var rest2 []*Catalog
	for _, n := range all {
		if n != leader {
			rest2 = append(rest2, n)
		}
	}
	nl := leaderOf(t, rest2...)
	waitFor(t, 5*time.Second, "the leaver removed", func() bool {
		_, in := suffrage(nl)[leader.NodeID()]
		_, listed := nl.Status().Node(leader.NodeID())
		return !in && !listed
	})
	if err := rest2[0].RecordPartitions(ctx, done("p", 5, rest2[0].NodeID())); err != nil {
		t.Fatalf("apply after leave: %v", err)
	}
	sameState(t, rest2...)
}

// inmemCluster builds nodes on raft.InmemTransport, fully connected.
func inmemCluster(t *testing.T, b *broker.Broker, ids ...string) ([]*Catalog, map[string]*raft.InmemTransport) {
	trans := map[string]*raft.InmemTransport{}
	for _, id := range ids {
		_, tr := raft.NewInmemTransport(raft.ServerAddress(id + "-addr"))
		trans[id] = tr
	}
	for _, a := range ids {
		for _, c := range ids {
			if a != c {
				trans[a].Connect(trans[c].LocalAddr(), trans[c])
			}
		}
	}
	var nodes []*Catalog
	for i, id := range ids {
		cfg := testConfig(t, id)
		cfg.Transport = trans[id]
		cfg.Bootstrap = i == 0
		nodes = append(nodes, openNode(t, b, cfg))
	}
	return nodes, trans
}

// TestPartitionHeal: the leader is cut off from the other two (Raft
// transport only); they elect a new leader and go on; after the heal all
// three hold the identical state.
func TestPartitionHeal(t *testing.T) {
	b := startBroker(t)
	ids := []string{"a", "b", "c"}
	nodes, trans := inmemCluster(t, b, ids...)
	leader := leaderOf(t, nodes...)
	waitFor(t, 5*time.Second, "3 voters", func() bool { return len(leader.Status().Voters()) == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 20 {
		if err := nodes[i%3].RecordPartitions(ctx, done("p", i, nodes[i%3].NodeID())); err != nil {
			t.Fatal(err)
		}
	}
	sameState(t, nodes...)

	lt := trans[leader.NodeID()]
	var others []*Catalog
	for _, n := range nodes {
		if n != leader {
			others = append(others, n)
			lt.Disconnect(trans[n.NodeID()].LocalAddr())
			trans[n.NodeID()].Disconnect(lt.LocalAddr())
		}
	}
	// The majority elects a new leader.
	waitFor(t, 10*time.Second, "a new leader in the majority", func() bool {
		return others[0].IsLeader() || others[1].IsLeader()
	})
	// The old leader cannot commit on its own; its attempt ends in an
	// error or, once it has stepped down, is forwarded to the new leader.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := leader.Apply(short, NewPartitionDone(done("p", 1000, "old-leader")))
	cancelShort()
	t.Logf("apply on the isolated old leader: %v", err)
	for i := 100; i < 120; i++ {
		if err := others[i%2].RecordPartitions(ctx, done("p", i, others[i%2].NodeID())); err != nil {
			t.Fatalf("apply in the majority: %v", err)
		}
	}
	// Heal.
	for _, n := range others {
		lt.Connect(trans[n.NodeID()].LocalAddr(), trans[n.NodeID()])
		trans[n.NodeID()].Connect(lt.LocalAddr(), lt)
	}
	h := sameState(t, nodes...)
	for _, n := range nodes {
		if !n.IsDone("p", "src/119") {
			t.Fatalf("%s misses the majority's writes", n.NodeID())
		}
	}
	t.Logf("identical state %x after heal", h)
}

// TestSnapshotRestart: snapshot (the log is truncated), shut down, reopen:
// the state is identical and the node goes on.
func TestSnapshotRestart(t *testing.T) {
	b := startBroker(t)
	cfg := testConfig(t, "solo")
	cfg.Bootstrap = true
	cfg.TrailingLogs = 5
	c := openNode(t, b, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 50 {
		if err := c.RecordPartitions(ctx, done("p", i, "solo")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Apply(ctx, NewCheckpointCommitted(Checkpoint{Pipeline: "p", Shard: 1, Object: ObjectRef{Bucket: "ck", Name: "p-1-9"}, Covers: 9, Time: time.Now()}), NewWatermarkAdvanced("p", "s", 12345), NewShardAssigned("p", 1, "solo")); err != nil {
		t.Fatal(err)
	}
	if err := c.Snapshot(); err != nil {
		t.Fatal(err)
	}
	first, err := c.wal.FirstIndex()
	if err != nil || first <= 1 {
		t.Fatalf("log not truncated after snapshot: first index %d, %v", first, err)
	}
	for i := 50; i < 60; i++ { // entries after the snapshot, replayed from the log
		if err := c.RecordPartitions(ctx, done("p", i, "solo")); err != nil {
			t.Fatal(err)
		}
	}
	h := pipelinesHash(c.fsm)
	sessions := len(c.fsm.st.Sessions)
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	c2 := openNode(t, b, cfg)
	if _, err := c2.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	// The new incarnation's heartbeat changes the node table and adds a
	// session; the pipelines' state must be identical once restore and
	// replay are done.
	waitFor(t, 5*time.Second, "restored state", func() bool { return c2.IsDone("p", "src/59") })
	if got := pipelinesHash(c2.fsm); got != h {
		t.Fatalf("pipelines state after restart %x, want %x", got, h)
	}
	waitFor(t, 5*time.Second, "new session", func() bool {
		c2.fsm.mu.RLock()
		defer c2.fsm.mu.RUnlock()
		return len(c2.fsm.st.Sessions) == sessions+1
	})
	if cp, ok := c2.Checkpoint("p", 1); !ok || cp.Covers != 9 {
		t.Fatalf("checkpoint after restart: %+v %v", cp, ok)
	}
	if wm, _ := c2.Watermark("p"); wm != 12345 {
		t.Fatalf("watermark after restart %d", wm)
	}
	if ps, _ := c2.Status().Pipeline("p"); ps.Counters.Done != 60 {
		t.Fatalf("done %d after restart, want 60", ps.Counters.Done)
	}
	if err := c2.RecordPartitions(ctx, done("p", 60, "solo")); err != nil {
		t.Fatalf("apply after restart: %v", err)
	}
}

func pipelinesHash(f *FSM) uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(f.st.Pipelines)
	if err != nil {
		panic(err)
	}
	return xxh3.Hash(b)
}

// TestVoterCapAndDeadNode: a 4th node joins as a non-voter; when a voter
// dies (stops without leaving), the leader removes it after DeadNodeTimeout
// and promotes the non-voter.
func TestVoterCapAndDeadNode(t *testing.T) {
	b := startBroker(t)
	var nodes []*Catalog
	cfgs := map[string]Config{}
	for i, id := range []string{"v1", "v2", "v3", "v4"} {
		cfg := testConfig(t, id)
		cfg.Bootstrap = i == 0
		cfg.DeadNodeTimeout = 800 * time.Millisecond
		cfgs[id] = cfg
		nodes = append(nodes, openNode(t, b, cfg))
	}
	leader := leaderOf(t, nodes...)
	waitFor(t, 5*time.Second, "3 voters and a non-voter", func() bool {
		s := suffrage(leader)
		return len(s) == 4 && s["v4"] == "Nonvoter" && len(leader.Status().Voters()) == 3
	})
	// Kill a voter that is not the leader.
	var victim *Catalog
	for _, n := range nodes[:3] {
		if n != leader {
			victim = n
			break
		}
	}
	start := time.Now()
	_ = victim.Shutdown()
	waitFor(t, 10*time.Second, "dead voter removed and v4 promoted", func() bool {
		s := suffrage(leader)
		_, in := s[victim.NodeID()]
		_, listed := leader.Status().Node(victim.NodeID())
		return !in && !listed && s["v4"] == "Voter"
	})
	t.Logf("dead voter %s removed and v4 promoted after %s", victim.NodeID(), time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nodes[3].RecordPartitions(ctx, done("p", 1, "v4")); err != nil {
		t.Fatal(err)
	}
	var live []*Catalog
	for _, n := range nodes {
		if n != victim {
			live = append(live, n)
		}
	}
	sameState(t, live...)

	// The removed node restarts: it re-joins (as a non-voter: the voters
	// are complete again) and catches up.
	back := openNode(t, b, cfgs[victim.NodeID()])
	waitFor(t, 10*time.Second, "the removed node back as a non-voter", func() bool {
		return suffrage(leader)[back.NodeID()] == "Nonvoter"
	})
	waitFor(t, 10*time.Second, "the returning node caught up", func() bool { return back.IsDone("p", "src/1") })
	live = append(live, back)

	// Graceful leave of a follower.
	var leaver *Catalog
	for _, n := range live {
		if n != leader {
			leaver = n
			break
		}
	}
	if err := leaver.Close(ctx); err != nil {
		t.Fatalf("Close (leave) of follower %s: %v", leaver.NodeID(), err)
	}
	waitFor(t, 5*time.Second, "the follower removed", func() bool {
		_, in := suffrage(leader)[leaver.NodeID()]
		_, listed := leader.Status().Node(leaver.NodeID())
		return !in && !listed
	})
}

// TestLeaderCompaction: the leader compacts records older than Retention;
// IsDone keeps answering for them.
func TestLeaderCompaction(t *testing.T) {
	b := startBroker(t)
	cfg := testConfig(t, "solo")
	cfg.Bootstrap = true
	cfg.Retention = time.Minute
	cfg.CompactInterval = 50 * time.Millisecond
	c := openNode(t, b, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old, fresh := done("p", 1, "solo"), done("p", 2, "solo")
	old.Time = time.Now().Add(-time.Hour)
	if err := c.RecordPartitions(ctx, old, fresh); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "compaction", func() bool {
		ps, _ := c.Status().Pipeline("p")
		return ps.Recent == 1 && ps.Counters.Compacted == 1 && ps.Counters.Done == 2
	})
	if !c.IsDone("p", "src/1") || !c.IsDone("p", "src/2") {
		t.Fatal("IsDone lost by compaction")
	}
}

func TestConfigValidate(t *testing.T) {
	base := DefaultConfig()
	base.NodeID, base.Dir = "n1", "/tmp/x"
	if err := base.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no node id", func(c *Config) { c.NodeID = "" }, "node_id"},
		{"dotted node id", func(c *Config) { c.NodeID = "a.b" }, "node_id"},
		{"reserved node id", func(c *Config) { c.NodeID = "_any" }, "node_id"},
		{"no dir", func(c *Config) { c.Dir = "" }, "dir"},
		{"unspecified bind", func(c *Config) { c.BindAddr = "0.0.0.0:7400" }, "advertise_addr"},
		{"empty bind host", func(c *Config) { c.BindAddr = ":7400" }, "advertise_addr"},
		{"unspecified advertise", func(c *Config) { c.AdvertiseAddr = "[::]:7400" }, "advertise_addr"},
		{"advertise port 0", func(c *Config) { c.AdvertiseAddr = "10.0.0.1:0" }, "advertise_addr"},
		{"bad bind", func(c *Config) { c.BindAddr = "nope" }, "bind_addr"},
		{"4 voters", func(c *Config) { c.MaxVoters = 4 }, "max_voters"},
		{"election < heartbeat", func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 }, "election_timeout"},
		{"dead < 2 heartbeats", func(c *Config) { c.DeadNodeTimeout = c.HeartbeatInterval }, "dead_node_timeout"},
		{"no batch", func(c *Config) { c.MaxBatch = 0 }, "max_batch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate: %v, want ErrInvalidConfig naming %s", err, tc.field)
			}
		})
	}
	ok := base
	ok.BindAddr, ok.AdvertiseAddr = "0.0.0.0:7400", "10.0.0.1:7400"
	if err := ok.Validate(); err != nil {
		t.Fatalf("bind 0.0.0.0 with advertise: %v", err)
	}
	ok.BindAddr, ok.AdvertiseAddr = "", ""
	ok.Transport = &raft.InmemTransport{}
	if err := ok.Validate(); err != nil {
		t.Fatalf("injected transport: %v", err)
	}
}
