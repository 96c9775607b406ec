package node

import (
	"context"
	"fmt"
	"time"

	"github.com/pcs-dev/pcs/node/catalog"
)

// openCatalog opens the node's Raft catalog when [catalog] dir is set:
// the first node bootstraps, the others join over NATS through any member.
func (n *Node) openCatalog(ctx context.Context) error {
	cc := n.cfg.Catalog
	if cc.Dir == "" {
		return nil
	}
	cfg := catalog.DefaultConfig()
	cfg.NodeID = n.cfg.Node.ID
	cfg.Dir = cc.Dir
	cfg.BindAddr = cc.Bind
	cfg.AdvertiseAddr = cc.Advertise
	cfg.Bootstrap = cc.Bootstrap
	cfg.MaxVoters = cc.MaxVoters
	cfg.HeartbeatInterval = time.Duration(cc.HeartbeatInterval)
	cfg.DeadNodeTimeout = time.Duration(cc.DeadNodeTimeout)
	cfg.ElectionTimeout = time.Duration(cc.ElectionTimeout)
	cfg.HeartbeatTimeout = time.Duration(cc.ElectionTimeout)
	cfg.ForwardTimeout = time.Duration(cc.ForwardTimeout)
	cfg.HTTPAddr = n.httpAddr
	cfg.TLS = catalog.TLSConfig{CAFile: cc.TLSCA, CertFile: cc.TLSCert, KeyFile: cc.TLSKey, ServerName: cc.TLSServerName}
	cfg.Role = "worker"
	cfg.Logger = n.log
	cat, err := catalog.Open(ctx, cfg, catalog.NewNATSForwarder(n.nc, cc.Cluster))
	if err != nil {
		return fmt.Errorf("node: catalog: %w", err)
	}
	n.cat = cat
	leader, err := cat.WaitLeader(ctx)
	if err != nil {
		return fmt.Errorf("node: catalog: no leader: %w", err)
	}
	// Checkpoints and done partitions are read from the local copy: it
	// must hold everything committed before this node (re)started.
	if err := cat.CatchUp(ctx); err != nil {
		return fmt.Errorf("node: catalog: %w", err)
	}
	n.log.Info("catalog open", "dir", cc.Dir, "raft", cat.Addr(), "leader", leader, "bootstrap", cc.Bootstrap, "tls", cfg.TLS.Enabled())
	return nil
}

// Catalog returns the node's catalog, or nil without one.
func (n *Node) Catalog() *catalog.Catalog { return n.cat }
