package catalog

import (
	"time"

	"github.com/hashicorp/raft"
)

// Status is a point-in-time view of the catalog from one node, for the
// control plane's JSON status API and `pcs status`.
type Status struct {
	// NodeID is the node that answered; State its Raft state ("Leader",
	// "Follower", "Candidate", "Shutdown").
	NodeID string `json:"node_id"`
	State  string `json:"state"`
	// Leader and LeaderAddr name the leader as this node knows it ("" if
	// none).
	Leader     string `json:"leader"`
	LeaderAddr string `json:"leader_addr"`
	// Term, LastIndex and AppliedIndex are Raft's counters on this node.
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	AppliedIndex uint64 `json:"applied_index"`
	// Servers is the Raft configuration: voters and non-voters.
	Servers []Server `json:"servers"`
	// Nodes is the node table with last heartbeats, sorted by id.
	Nodes []NodeStatus `json:"nodes"`
	// Pipelines summarizes each pipeline, sorted by name.
	Pipelines []PipelineStatus `json:"pipelines"`
}

// Server is one entry of the Raft configuration.
type Server struct {
	// ID is the node id; Address its advertised Raft address.
	ID      string `json:"id"`
	Address string `json:"address"`
	// Suffrage is "Voter", "Nonvoter" or "Staging".
	Suffrage string `json:"suffrage"`
}

// PipelineStatus summarizes one pipeline.
type PipelineStatus struct {
	// Name is the pipeline name.
	Name string `json:"name"`
	// Counters are the done/failed/dead-lettered counts and done rows and
	// bytes.
	Counters Counters `json:"counters"`
	// Recent is the number of detailed (not yet compacted) partition
	// records.
	Recent int `json:"recent"`
	// Watermark is the effective watermark (minimum over Watermarks) in
	// Unix ms; Watermarks is per source (nil if none).
	Watermark  int64            `json:"watermark_ms,omitempty"`
	Watermarks map[string]int64 `json:"watermarks,omitempty"`
	// Checkpoints holds the latest checkpoint of each shard, by shard.
	Checkpoints []Checkpoint `json:"checkpoints,omitempty"`
	// Shards holds the shard assignments, by shard.
	Shards []ShardAssignment `json:"shards,omitempty"`
}

// Voters returns the ids of the voting servers.
func (s Status) Voters() []string {
	var out []string
	for _, sv := range s.Servers {
		if sv.Suffrage == raft.Voter.String() {
			out = append(out, sv.ID)
		}
	}
	return out
}

// Node returns the node-table entry of id.
func (s Status) Node(id string) (NodeStatus, bool) {
	for _, n := range s.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NodeStatus{}, false
}

// Pipeline returns the summary of the named pipeline.
func (s Status) Pipeline(name string) (PipelineStatus, bool) {
	for _, p := range s.Pipelines {
		if p.Name == name {
			return p, true
		}
	}
	return PipelineStatus{}, false
}

// Status returns this node's view of the catalog (local state: a follower's
// may lag the leader's). Safe from any goroutine; it does not block on the
// network.
func (c *Catalog) Status() Status {
	la, lid := c.raft.LeaderWithID()
	st := Status{
		NodeID:       c.cfg.NodeID,
		State:        c.raft.State().String(),
		Leader:       string(lid),
		LeaderAddr:   string(la),
		Term:         c.raft.CurrentTerm(),
		LastIndex:    c.raft.LastIndex(),
		AppliedIndex: c.raft.AppliedIndex(),
		Nodes:        c.fsm.Nodes(),
		Pipelines:    c.fsm.Pipelines(),
	}
	if cf := c.raft.GetConfiguration(); cf.Error() == nil {
		for _, s := range cf.Configuration().Servers {
			st.Servers = append(st.Servers, Server{ID: string(s.ID), Address: string(s.Address), Suffrage: s.Suffrage.String()})
		}
	}
	return st
}

// Since reports how long ago the node's last heartbeat was, at now.
func (n NodeStatus) Since(now time.Time) time.Duration { return now.Sub(n.LastHeartbeat) }
