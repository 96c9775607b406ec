package node

import (
	"context"
	"time"

	"github.com/pcs-dev/pcs/node/catalog"
)

// Status is the node's view of its pipelines and of the fleet's catalog:
// what GET /v1/status returns as JSON and `pcs status` prints.
type Status struct {
	// Node is this node's id; Time when the status was taken.
	Node string    `json:"node"`
	Time time.Time `json:"time"`
	// Broker is the embedded broker's client URL when it listens
	// (broker.listen; with port 0 the port it picked), else empty.
	Broker string `json:"broker,omitempty"`
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
	if n.broker != nil {
		st.Broker = n.broker.ClientURL()
	}
	for _, d := range n.pipelines {
		ps := PipelineStatus{Name: d.cfg.Name, Paused: d.bp.paused.Load()}
		if info, err := d.cons.Info(ctx); err != nil {
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
