package node

import (
	"context"
	"fmt"
	"time"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/transports/natsjs"
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
	n.log.Info("catalog open", "dir", cc.Dir, "raft", cat.Addr(), "leader", leader, "bootstrap", cc.Bootstrap)
	return nil
}

// Catalog returns the node's catalog, or nil without one.
func (n *Node) Catalog() *catalog.Catalog { return n.cat }

// record records a partition's outcome in the catalog (no-op without
// one). Done records must succeed before the input is acked; failures
// and dead letters are recorded best effort.
func (r *runner) record(ctx context.Context, p *natsjs.Partition, id string, status catalog.PartitionStatus, rows int64, outputs []string, cause error) error {
	if r.cat == nil {
		return nil
	}
	return r.cat.RecordPartitions(ctx, r.partitionRecord(p, id, status, rows, outputs, cause))
}

// partitionRecord is the catalog's record of partition p.
func (r *runner) partitionRecord(p *natsjs.Partition, id string, status catalog.PartitionStatus, rows int64, outputs []string, cause error) catalog.PartitionRecord {
	rec := catalog.PartitionRecord{Pipeline: r.cfg.Name, ID: id, Status: status, Subject: p.Msg().Subject(),
		Rows: rows, Bytes: int64(p.Size()), Outputs: outputs, Attempts: int(p.Delivered()), Node: r.nodeID, Time: time.Now()}
	if md, err := p.Msg().Metadata(); err == nil {
		rec.StreamSeq = md.Sequence.Stream
	}
	if cause != nil {
		rec.Error = cause.Error()
	}
	return rec
}

// Status is the node's view of its pipelines and of the fleet's catalog:
// what GET /v1/status returns as JSON and `pcs status` prints.
type Status struct {
	// Node is this node's id; Time when the status was taken.
	Node string    `json:"node"`
	Time time.Time `json:"time"`
	// Pipelines are this node's pipelines with their consumer's counts.
	Pipelines []PipelineStatus `json:"pipelines"`
	// Catalog is the catalog's state as this node knows it (leader,
	// voters, nodes with last heartbeat, per pipeline done / failed /
	// dead-lettered partitions, rows, checkpoints, watermarks); nil
	// without [catalog].
	Catalog *catalog.Status `json:"catalog,omitempty"`
}

// PipelineStatus is one pipeline's delivery state, from its durable
// consumer (shared by the fleet, so the counts are fleet-wide).
type PipelineStatus struct {
	Name string `json:"name"`
	// InFlight counts partitions delivered to some node and not yet acked
	// (the consumer's ack-pending); Pending those not yet delivered.
	InFlight int    `json:"in_flight"`
	Pending  uint64 `json:"pending"`
	// Redelivered counts ack-pending partitions delivered more than once.
	Redelivered int `json:"redelivered"`
	// Paused is true while this node holds off fetching (backpressure).
	Paused bool `json:"paused"`
	// Error says why the consumer's counts are missing, if they are.
	Error string `json:"error,omitempty"`
}

// Status returns the node's status; ctx bounds the consumer queries.
func (n *Node) Status(ctx context.Context) Status {
	st := Status{Node: n.cfg.Node.ID, Time: time.Now().UTC()}
	for _, r := range n.runners {
		ps := PipelineStatus{Name: r.cfg.Name, Paused: r.paused.Load()}
		if info, err := r.cons.Info(ctx); err != nil {
			ps.Error = err.Error()
		} else {
			ps.InFlight, ps.Pending, ps.Redelivered = info.NumAckPending, info.NumPending, info.NumRedelivered
		}
		st.Pipelines = append(st.Pipelines, ps)
	}
	if n.cat != nil {
		cs := n.cat.Status()
		st.Catalog = &cs
	}
	return st
}
