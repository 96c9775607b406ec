package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	fwd, err := n.catalogForwarder()
	if err != nil {
		return err
	}
	cat, err := catalog.Open(ctx, cfg, fwd)
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

// catalogForwarder is the catalog's forwarder over NATS, authenticated
// with the fleet key when [catalog] key_file (or $PCS_CATALOG_KEY_FILE)
// names one: rejected requests are logged and counted.
func (n *Node) catalogForwarder() (catalog.Forwarder, error) {
	cc := n.cfg.Catalog
	fwd := catalog.NewNATSForwarder(n.nc, cc.Cluster)
	rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "pcs_catalog_rejected_requests_total",
		Help: "Catalog requests rejected: without a valid MAC under the fleet key ([catalog] key_file), forged or replayed."})
	if err := n.metrics.Registry().Register(rejected); err != nil {
		return nil, fmt.Errorf("node: catalog metrics: %w", err)
	}
	path := cc.KeyFile
	if path == "" {
		path = os.Getenv("PCS_CATALOG_KEY_FILE")
	}
	if path == "" {
		n.log.Warn("catalog requests are not authenticated: set [catalog] key_file so that only the fleet can change the catalog")
		return fwd, nil
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("node: catalog key_file: %w", err)
	}
	return catalog.Authenticated(fwd, bytes.TrimSpace(key), func(reason string) {
		rejected.Inc()
		n.log.Warn("catalog request rejected", "reason", reason)
	})
}

// Catalog returns the node's catalog, or nil without one.
func (n *Node) Catalog() *catalog.Catalog { return n.cat }
