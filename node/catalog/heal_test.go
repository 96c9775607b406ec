package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/node/catalog/catalogtest"
)

// TestRemovedWhileCutOffRejoins: a follower cut off from the others (its
// Raft links and its forwarding, as a SIGSTOP would) for longer than
// DeadNodeTimeout is removed by the leader without learning it. When it
// is reachable again it re-joins by itself: first as a non-voter, then
// promoted to voter, it knows the leader and catches up. Before healLoop
// it stayed a Candidate outside the configuration until restarted.
func TestRemovedWhileCutOffRejoins(t *testing.T) {
	cl := catalogtest.Start(t, 3, catalogtest.WithConfig(func(_ int, cfg *catalog.Config) {
		cfg.DeadNodeTimeout = 800 * time.Millisecond
	}))
	leader := cl.Leader(t)
	vi := 0
	for cl.Node(vi) == leader {
		vi++
	}
	victim := cl.Node(vi)
	cl.Isolate(t, vi)
	catalogtest.WaitFor(t, 10*time.Second, "the cut-off node removed", func() bool {
		_, in := suffrage(leader)[victim.NodeID()]
		return !in
	})
	// Work goes on without it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := leader.RecordPartitions(ctx, done("p", 1, "n1")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // stays cut off a while past its removal
	if victim.Status().Leader != "" {
		t.Fatalf("the cut-off node knows leader %q", victim.Status().Leader)
	}
	healed := time.Now()
	cl.Heal(vi)
	seen := map[string]bool{}
	catalogtest.WaitFor(t, 15*time.Second, "the node back as a voter", func() bool {
		s := suffrage(leader)[victim.NodeID()]
		seen[s] = true
		return s == "Voter"
	})
	if !seen["Nonvoter"] {
		t.Errorf("the node came back as %v, want a non-voter first", seen)
	}
	catalogtest.WaitFor(t, 10*time.Second, "the node knows the leader and caught up", func() bool {
		return victim.Status().Leader != "" && victim.IsDone("p", "src/1")
	})
	t.Logf("back as a voter %s after the heal", time.Since(healed).Round(time.Millisecond))
	select {
	case <-victim.Lost():
		t.Fatalf("Lost closed: %v", victim.LostErr())
	default:
	}
	catalogtest.Converged(t, cl.Nodes()...)
}
