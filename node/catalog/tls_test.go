package catalog_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pcs-dev/pcs/broker/pki"
	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/node/catalog/catalogtest"
)

// tlsFiles issues a certificate for node id from ca into dir.
func tlsFiles(t *testing.T, ca *pki.CA, dir, id string) catalog.TLSConfig {
	t.Helper()
	f, err := ca.Write(dir, id, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return catalog.TLSConfig{CAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key}
}

// TestRaftMutualTLS runs a catalog over mutual TLS and checks that peers
// without a certificate of the cluster's CA cannot take part: a plain TCP
// peer and a peer with another CA's certificate get no Raft RPC through,
// and a node with the wrong certificate that asks to join never learns the
// cluster's log.
func TestRaftMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("pcs catalog CA")
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := pki.NewCA("rogue CA")
	if err != nil {
		t.Fatal(err)
	}
	cl := catalogtest.Start(t, 2, catalogtest.WithTCP(), catalogtest.WithConfig(func(i int, cfg *catalog.Config) {
		cfg.TLS = tlsFiles(t, ca, filepath.Join(dir, cfg.NodeID), cfg.NodeID)
	}))
	leader := cl.Leader(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Node(1).RecordPartitions(ctx, done("p", 1, "n2")); err != nil {
		t.Fatalf("apply over TLS: %v", err)
	}
	catalogtest.Converged(t, cl.Nodes()...)

	// Raw Raft RPCs from peers without a valid certificate.
	vote := func(tr raft.Transport) error {
		var resp raft.RequestVoteResponse
		return tr.RequestVote(raft.ServerID(leader.NodeID()), raft.ServerAddress(leader.Addr()),
			&raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ID: []byte("intruder"), Addr: []byte("127.0.0.1:1")}, Term: 1 << 40, LastLogIndex: 1 << 40, LastLogTerm: 1 << 40}, &resp)
	}
	plain, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := vote(plain); err == nil {
		t.Error("a plain TCP peer's RequestVote got through")
	}
	wrong, err := catalog.NewTLSTransport(tlsFiles(t, rogue, filepath.Join(dir, "rogue"), "intruder"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if err := vote(wrong); err == nil {
		t.Error("a peer with another CA's certificate got a RequestVote through")
	}
	if l := cl.Leader(t); l != leader {
		t.Errorf("leadership moved to %s after the intruders", l.NodeID())
	}

	// A whole node with the rogue certificate asks to join: it may be let
	// in to the configuration through forwarding, but no Raft message
	// reaches it, so it never learns the leader or the log.
	cfg := catalogtest.Config(t, "n3")
	cfg.TLS = tlsFiles(t, rogue, filepath.Join(dir, "n3"), "n3")
	octx, ocancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ocancel()
	n3, err := catalog.Open(octx, cfg, cl.Network().Forwarder("n3"))
	if err == nil {
		defer n3.Shutdown()
		time.Sleep(2 * time.Second)
		if n3.IsDone("p", "src/1") || n3.Raft().LastIndex() > 0 {
			t.Errorf("the rogue node received the log (last index %d)", n3.Raft().LastIndex())
		}
		if id, _ := n3.Leader(); id != "" {
			t.Errorf("the rogue node knows leader %s", id)
		}
	} else {
		t.Logf("rogue node: Open: %v", err)
	}
	// The cluster still works.
	if err := leader.RecordPartitions(ctx, done("p", 2, leader.NodeID())); err != nil {
		t.Fatalf("apply after the rogue join: %v", err)
	}
}
