package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pcs-dev/pcs/broker"
	"github.com/pcs-dev/pcs/broker/brokertest"
	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/node/catalog/catalogtest"
)

// natsForwarders gives every node a NATSForwarder of the named cluster on
// its own in-process connection to b, closed after the node shuts down.
func natsForwarders(b *broker.Broker, cluster string) catalogtest.Option {
	return catalogtest.WithForwarders(func(t testing.TB, _ string) catalog.Forwarder {
		return catalog.NewNATSForwarder(brokertest.Conn(t, b), cluster)
	})
}

// withIDs names the nodes.
func withIDs(ids ...string) catalogtest.Option {
	return catalogtest.WithConfig(func(i int, cfg *catalog.Config) { cfg.NodeID = ids[i] })
}

func suffrage(c *catalog.Catalog) map[string]string {
	out := map[string]string{}
	for _, s := range c.Status().Servers {
		out[s.ID] = s.Suffrage
	}
	return out
}

func done(pipeline string, i int, node string) catalog.PartitionRecord {
	return catalog.PartitionRecord{Pipeline: pipeline, ID: fmt.Sprintf("src/%d", i), Status: catalog.StatusDone, Subject: "in", StreamSeq: uint64(i), Rows: 10, Bytes: 100, Attempts: 1, Node: node, Time: time.Now()}
}

// without returns nodes except x.
func without(nodes []*catalog.Catalog, x *catalog.Catalog) []*catalog.Catalog {
	var out []*catalog.Catalog
	for _, n := range nodes {
		if n != x {
			out = append(out, n)
		}
	}
	return out
}

// TestClusterTCP: three nodes on loopback TCP with NATS forwarding on a
// real broker: bootstrap and join, commands from followers, concurrent
// applies batched, idempotent re-apply, leader crash and re-election,
// restart and catch-up, graceful leave of the leader.
func TestClusterTCP(t *testing.T) {
	b := brokertest.Start(t)
	cl := catalogtest.Start(t, 3, catalogtest.WithTCP(), natsForwarders(b, "test"))
	n1, n2, n3 := cl.Node(0), cl.Node(1), cl.Node(2)
	if id := n1.NodeID(); id != "n1" {
		t.Fatalf("node 0 is %s, want n1", id)
	}
	all := cl.Nodes()
	leader := cl.Leader(t)
	if leader != n1 {
		t.Fatalf("leader %s, want the bootstrap node", leader.NodeID())
	}
	catalogtest.WaitFor(t, 5*time.Second, "3 voters", func() bool { return len(leader.Status().Voters()) == 3 })
	catalogtest.WaitFor(t, 5*time.Second, "3 nodes with heartbeats", func() bool { return len(leader.Status().Nodes) == 3 })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// From a follower: forwarded to the leader.
	if err := n2.RecordPartitions(ctx, done("p", 1, "n2"), done("p", 2, "n2")); err != nil {
		t.Fatalf("RecordPartitions from follower: %v", err)
	}
	if !leader.IsDone("p", "src/1") {
		t.Fatal("leader does not have the follower's completion after Apply returned")
	}
	// Idempotent re-apply of the same command id.
	cmd := catalog.NewPartitionDone(done("p", 3, "n3"))
	cmd.ID = catalog.CommandID{Session: "test", Seq: 1}
	r1, err := n3.Apply(ctx, cmd)
	if err != nil || !r1[0].Applied {
		t.Fatalf("first apply: %v %+v", err, r1)
	}
	r2, err := n3.Apply(ctx, cmd)
	if err != nil || r2[0].Applied {
		t.Fatalf("second apply: %v %+v, want a no-op", err, r2)
	}
	// Invalid commands fail fast.
	if _, err := n2.Apply(ctx, catalog.NewPartitionDone(catalog.PartitionRecord{})); !errors.Is(err, catalog.ErrInvalidCommand) {
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
	catalogtest.Converged(t, all...)
	if ps, _ := leader.Status().Pipeline("q"); ps.Counters.Done != 3*workers*each {
		t.Fatalf("q done %d, want %d", ps.Counters.Done, 3*workers*each)
	}

	// Leader crash: the others elect a new leader; applies from a follower
	// go on.
	start := time.Now()
	_ = n1.Shutdown()
	newLeader := catalogtest.Leader(t, n2, n3)
	t.Logf("re-election after leader loss: %s, new leader %s", time.Since(start).Round(time.Millisecond), newLeader.NodeID())
	follower := n2
	if newLeader == follower {
		follower = n3
	}
	if err := follower.RecordPartitions(ctx, done("p", 4, follower.NodeID())); err != nil {
		t.Fatalf("apply after re-election: %v", err)
	}
	// The old leader restarts with its state and catches up.
	n1 = cl.Restart(t, 0)
	all = cl.Nodes()
	h := catalogtest.Converged(t, all...)
	if !n1.IsDone("p", "src/4") {
		t.Fatal("restarted node did not catch up")
	}
	t.Logf("state hash %x on all three nodes", h)

	// Graceful leave of the leader: leadership moves, the server is
	// removed, the cluster goes on with two voters.
	leader = cl.Leader(t)
	if err := leader.Close(ctx); err != nil {
		t.Fatalf("Close (leave): %v", err)
	}
	rest := without(all, leader)
	nl := catalogtest.Leader(t, rest...)
	catalogtest.WaitFor(t, 5*time.Second, "the leaver removed", func() bool {
		_, in := suffrage(nl)[leader.NodeID()]
		_, listed := nl.Status().Node(leader.NodeID())
		return !in && !listed
	})
	if err := rest[0].RecordPartitions(ctx, done("p", 5, rest[0].NodeID())); err != nil {
		t.Fatalf("apply after leave: %v", err)
	}
	catalogtest.Converged(t, rest...)
}

// TestPartitionHeal: the leader is cut off from the other two (its Raft
// links only, or Raft and forwarding); they elect a new leader and go on;
// after the heal all three hold the identical state.
func TestPartitionHeal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		isolate func(*catalogtest.Cluster, testing.TB, int)
	}{
		{"raft", (*catalogtest.Cluster).IsolateRaft},
		{"raft and forwarding", (*catalogtest.Cluster).Isolate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := catalogtest.Start(t, 3, withIDs("a", "b", "c"))
			nodes := cl.Nodes()
			leader := cl.Leader(t)
			catalogtest.WaitFor(t, 5*time.Second, "3 voters", func() bool { return len(leader.Status().Voters()) == 3 })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := range 20 {
				if err := nodes[i%3].RecordPartitions(ctx, done("p", i, nodes[i%3].NodeID())); err != nil {
					t.Fatal(err)
				}
			}
			catalogtest.Converged(t, nodes...)

			li := 0
			for i, n := range nodes {
				if n == leader {
					li = i
				}
			}
			tc.isolate(cl, t, li)
			others := without(nodes, leader)
			// The majority elects a new leader.
			catalogtest.WaitFor(t, 10*time.Second, "a new leader in the majority", func() bool {
				return others[0].IsLeader() || others[1].IsLeader()
			})
			// The old leader cannot commit on its own; its attempt ends in
			// an error or, once it has stepped down and if forwarding
			// still works, is forwarded to the new leader.
			short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err := leader.Apply(short, catalog.NewPartitionDone(done("p", 1000, "old-leader")))
			cancelShort()
			t.Logf("apply on the isolated old leader: %v", err)
			for i := 100; i < 120; i++ {
				if err := others[i%2].RecordPartitions(ctx, done("p", i, others[i%2].NodeID())); err != nil {
					t.Fatalf("apply in the majority: %v", err)
				}
			}
			cl.Heal(li)
			h := catalogtest.Converged(t, nodes...)
			for _, n := range nodes {
				if !n.IsDone("p", "src/119") {
					t.Fatalf("%s misses the majority's writes", n.NodeID())
				}
			}
			t.Logf("identical state %x after heal", h)
		})
	}
}

// TestSnapshotRestart: snapshot (the log is truncated), shut down, reopen:
// the state is identical and the node goes on.
func TestSnapshotRestart(t *testing.T) {
	cl := catalogtest.Start(t, 1, catalogtest.WithConfig(func(_ int, cfg *catalog.Config) {
		cfg.NodeID = "solo"
		cfg.TrailingLogs = 5
	}))
	c := cl.Node(0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 50 {
		if err := c.RecordPartitions(ctx, done("p", i, "solo")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Apply(ctx, catalog.NewCheckpointCommitted(catalog.Checkpoint{Pipeline: "p", Shard: 1, Object: catalog.ObjectRef{Bucket: "ck", Name: "p-1-9"}, Covers: 9, Time: time.Now()}), catalog.NewWatermarkAdvanced("p", "s", 12345), catalog.NewShardAssigned("p", 1, "solo")); err != nil {
		t.Fatal(err)
	}
	if err := c.Snapshot(); err != nil {
		t.Fatal(err)
	}
	first, err := catalog.FirstLogIndex(c)
	if err != nil || first <= 1 {
		t.Fatalf("log not truncated after snapshot: first index %d, %v", first, err)
	}
	for i := 50; i < 60; i++ { // entries after the snapshot, replayed from the log
		if err := c.RecordPartitions(ctx, done("p", i, "solo")); err != nil {
			t.Fatal(err)
		}
	}
	h := catalog.PipelinesHash(c.FSM())
	sessions := catalog.Sessions(c.FSM())
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	c2 := cl.Restart(t, 0)
	if _, err := c2.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	// The new incarnation's heartbeat changes the node table and adds a
	// session; the pipelines' state must be identical once restore and
	// replay are done.
	catalogtest.WaitFor(t, 5*time.Second, "restored state", func() bool { return c2.IsDone("p", "src/59") })
	if got := catalog.PipelinesHash(c2.FSM()); got != h {
		t.Fatalf("pipelines state after restart %x, want %x", got, h)
	}
	catalogtest.WaitFor(t, 5*time.Second, "new session", func() bool {
		return catalog.Sessions(c2.FSM()) == sessions+1
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

// TestVoterCapAndDeadNode: a 4th node joins as a non-voter; when a voter
// dies (stops without leaving), the leader removes it after DeadNodeTimeout
// and promotes the non-voter.
func TestVoterCapAndDeadNode(t *testing.T) {
	cl := catalogtest.Start(t, 4, withIDs("v1", "v2", "v3", "v4"), catalogtest.WithConfig(func(_ int, cfg *catalog.Config) {
		cfg.DeadNodeTimeout = 800 * time.Millisecond
	}))
	nodes := cl.Nodes()
	leader := cl.Leader(t)
	catalogtest.WaitFor(t, 5*time.Second, "3 voters and a non-voter", func() bool {
		s := suffrage(leader)
		return len(s) == 4 && s["v4"] == "Nonvoter" && len(leader.Status().Voters()) == 3
	})
	// Kill a voter that is not the leader.
	vi := 0
	for nodes[vi] == leader {
		vi++
	}
	victim := nodes[vi]
	start := time.Now()
	_ = victim.Shutdown()
	catalogtest.WaitFor(t, 10*time.Second, "dead voter removed and v4 promoted", func() bool {
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
	live := without(nodes, victim)
	catalogtest.Converged(t, live...)

	// The removed node restarts: it re-joins (as a non-voter: the voters
	// are complete again) and catches up.
	back := cl.Restart(t, vi)
	catalogtest.WaitFor(t, 10*time.Second, "the removed node back as a non-voter", func() bool {
		return suffrage(leader)[back.NodeID()] == "Nonvoter"
	})
	catalogtest.WaitFor(t, 10*time.Second, "the returning node caught up", func() bool { return back.IsDone("p", "src/1") })
	live = append(live, back)

	// Graceful leave of a follower.
	leaver := without(live, leader)[0]
	if err := leaver.Close(ctx); err != nil {
		t.Fatalf("Close (leave) of follower %s: %v", leaver.NodeID(), err)
	}
	catalogtest.WaitFor(t, 5*time.Second, "the follower removed", func() bool {
		_, in := suffrage(leader)[leaver.NodeID()]
		_, listed := leader.Status().Node(leaver.NodeID())
		return !in && !listed
	})
}

// TestLeaderCompaction: the leader compacts records older than Retention;
// IsDone keeps answering for them.
func TestLeaderCompaction(t *testing.T) {
	cl := catalogtest.Start(t, 1, catalogtest.WithConfig(func(_ int, cfg *catalog.Config) {
		cfg.NodeID = "solo"
		cfg.Retention = time.Minute
		cfg.CompactInterval = 50 * time.Millisecond
	}))
	c := cl.Node(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old, fresh := done("p", 1, "solo"), done("p", 2, "solo")
	old.Time = time.Now().Add(-time.Hour)
	if err := c.RecordPartitions(ctx, old, fresh); err != nil {
		t.Fatal(err)
	}
	catalogtest.WaitFor(t, 5*time.Second, "compaction", func() bool {
		ps, _ := c.Status().Pipeline("p")
		return ps.Recent == 1 && ps.Counters.Compacted == 1 && ps.Counters.Done == 2
	})
	if !c.IsDone("p", "src/1") || !c.IsDone("p", "src/2") {
		t.Fatal("IsDone lost by compaction")
	}
}

func TestConfigValidate(t *testing.T) {
	base := catalog.DefaultConfig()
	base.NodeID, base.Dir = "n1", "/tmp/x"
	if err := base.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*catalog.Config)
		field string
	}{
		{"no node id", func(c *catalog.Config) { c.NodeID = "" }, "node_id"},
		{"dotted node id", func(c *catalog.Config) { c.NodeID = "a.b" }, "node_id"},
		{"reserved node id", func(c *catalog.Config) { c.NodeID = "_any" }, "node_id"},
		{"no dir", func(c *catalog.Config) { c.Dir = "" }, "dir"},
		{"unspecified bind", func(c *catalog.Config) { c.BindAddr = "0.0.0.0:7400" }, "advertise_addr"},
		{"empty bind host", func(c *catalog.Config) { c.BindAddr = ":7400" }, "advertise_addr"},
		{"unspecified advertise", func(c *catalog.Config) { c.AdvertiseAddr = "[::]:7400" }, "advertise_addr"},
		{"advertise port 0", func(c *catalog.Config) { c.AdvertiseAddr = "10.0.0.1:0" }, "advertise_addr"},
		{"bad bind", func(c *catalog.Config) { c.BindAddr = "nope" }, "bind_addr"},
		{"4 voters", func(c *catalog.Config) { c.MaxVoters = 4 }, "max_voters"},
		{"election < heartbeat", func(c *catalog.Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 }, "election_timeout"},
		{"dead < 2 heartbeats", func(c *catalog.Config) { c.DeadNodeTimeout = c.HeartbeatInterval }, "dead_node_timeout"},
		{"no batch", func(c *catalog.Config) { c.MaxBatch = 0 }, "max_batch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, catalog.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
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
