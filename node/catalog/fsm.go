package catalog

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// maxAboveFloor bounds, per session, how many applied sequence numbers above
// the session's contiguous floor the FSM remembers (see the package doc,
// "Idempotence"). When a session exceeds it (a caller abandoned a sequence
// number for good), the floor jumps over the gap.
const maxAboveFloor = 1 << 14

// FSM is the catalog's Raft state machine (raft.FSM and raft.BatchingFSM).
// Raft calls Apply, ApplyBatch, Snapshot and Restore on its FSM goroutine;
// the query methods (IsDone, Partition, Checkpoint, ...) may be called from
// any goroutine at any time and return copies. Queries on a follower may lag
// the leader by the replication delay.
//
// Apply is deterministic: it never reads the clock; times come from the
// commands and from raft.Log.AppendedAt (the leader's clock, stored in the
// log).
type FSM struct {
	mu sync.RWMutex
	st *state
}

// NewFSM returns an empty FSM. Catalog makes its own; tests and tools can use
// one directly.
func NewFSM() *FSM { return &FSM{st: newState()} }

// state is the whole FSM state; it is also the snapshot body, so its JSON
// encoding (maps with sorted keys) is deterministic.
type state struct {
	Pipelines map[string]*pipelineState `json:"pipelines"`
	Nodes     map[string]*NodeStatus    `json:"nodes"`
	Sessions  map[string]*session       `json:"sessions"`
}

type pipelineState struct {
	// Partitions holds the detailed records not compacted yet.
	Partitions map[string]*PartitionRecord `json:"partitions"`
	// Compacted holds the status of compacted (terminal) partitions by id.
	Compacted   map[string]PartitionStatus `json:"compacted"`
	Counters    Counters                   `json:"counters"`
	Checkpoints map[int]Checkpoint         `json:"checkpoints"`
	Watermarks  map[string]int64           `json:"watermarks"`
	Shards      map[int]ShardAssignment    `json:"shards"`
}

// session is the idempotence record of one command issuer: every Seq <=
// Floor and every Seq in Above has been applied.
type session struct {
	Floor uint64              `json:"floor"`
	Above map[uint64]struct{} `json:"above,omitempty"`
	// Last is the AppendedAt time of the session's last command; Compact
	// forgets sessions idle since before its cutoff.
	Last time.Time `json:"last"`
}

// Counters are a pipeline's partition counters. Done, Failed and
// DeadLettered count partitions by their current status (a partition that
// failed and then succeeded counts as done only); compacted partitions stay
// counted.
type Counters struct {
	Done         int64 `json:"done"`
	Failed       int64 `json:"failed"`
	DeadLettered int64 `json:"dead_lettered"`
	// Rows and Bytes sum the input rows and bytes of done partitions.
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Compacted is how many partition records were folded into the
	// compacted id set (they are still counted above).
	Compacted int64 `json:"compacted"`
}

// NodeStatus is what the catalog knows about a node.
type NodeStatus struct {
	NodeInfo
	// Joined is when the node joined (or was first seen).
	Joined time.Time `json:"joined"`
	// LastHeartbeat is the time of the node's last heartbeat on the leader's
	// clock.
	LastHeartbeat time.Time `json:"last_heartbeat"`
}

func newState() *state {
	return &state{
		Pipelines: map[string]*pipelineState{},
		Nodes:     map[string]*NodeStatus{},
		Sessions:  map[string]*session{},
	}
}

func (s *state) pipeline(name string) *pipelineState {
	p := s.Pipelines[name]
	if p == nil {
		p = &pipelineState{}
		s.Pipelines[name] = p
	}
	p.init()
	return p
}

// init makes the maps of p non-nil (after JSON decoding of empty maps too).
func (p *pipelineState) init() {
	if p.Partitions == nil {
		p.Partitions = map[string]*PartitionRecord{}
	}
	if p.Compacted == nil {
		p.Compacted = map[string]PartitionStatus{}
	}
	if p.Checkpoints == nil {
		p.Checkpoints = map[int]Checkpoint{}
	}
	if p.Watermarks == nil {
		p.Watermarks = map[string]int64{}
	}
	if p.Shards == nil {
		p.Shards = map[int]ShardAssignment{}
	}
}

// Apply applies one committed Raft log entry (raft.FSM). For a command
// entry it returns []Result, one per command of the entry, or an error
// wrapping ErrCorrupt if the entry does not decode (nothing is applied
// then). Other log types return nil.
func (f *FSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applyLocked(l)
}

// ApplyBatch applies consecutive committed entries under one lock
// (raft.BatchingFSM); each response is what Apply would return.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]any, len(logs))
	for i, l := range logs {
		out[i] = f.applyLocked(l)
	}
	return out
}

func (f *FSM) applyLocked(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	cmds, err := decodeEntry(l.Data)
	if err != nil {
		return err
	}
	return f.st.apply(cmds, l.Index, utc(l.AppendedAt).Truncate(time.Millisecond))
}

// apply applies the commands of one entry with log index index appended at
// time at (zero if unknown).
func (s *state) apply(cmds []Command, index uint64, at time.Time) []Result {
	res := make([]Result, len(cmds))
	for i := range cmds {
		res[i] = s.applyOne(&cmds[i], index, at)
	}
	return res
}

func (s *state) applyOne(c *Command, index uint64, at time.Time) Result {
	r := Result{Index: index}
	if !s.markApplied(c.ID, at) {
		if c.Type == TypeShardAssigned && c.Shard != nil {
			if p := s.Pipelines[c.Shard.Pipeline]; p != nil {
				if cur, ok := p.Shards[c.Shard.Shard]; ok && cur.Node == c.Shard.Node {
					r.Epoch = cur.Epoch
				}
			}
		}
		return r
	}
	r.Applied = true
	switch c.Type {
	case TypePartitionDone, TypePartitionFailed, TypePartitionDeadLettered, TypeBatch:
		for i := range c.Partitions {
			rec := c.Partitions[i]
			if rec.Pipeline == "" || rec.ID == "" || rec.Status == StatusUnknown || rec.Status > StatusDone {
				continue // Validate refuses these; never trust the log blindly
			}
			s.pipeline(rec.Pipeline).record(rec)
		}
	case TypeCheckpointCommitted:
		if cp := c.Checkpoint; cp != nil {
			p := s.pipeline(cp.Pipeline)
			if cur, ok := p.Checkpoints[cp.Shard]; !ok || newerCheckpoint(*cp, cur) {
				p.Checkpoints[cp.Shard] = *cp
			}
		}
	case TypeWatermarkAdvanced:
		if w := c.Watermark; w != nil {
			p := s.pipeline(w.Pipeline)
			if cur, ok := p.Watermarks[w.Source]; !ok || w.Watermark > cur {
				p.Watermarks[w.Source] = w.Watermark
			}
		}
	case TypeNodeJoined, TypeHeartbeat:
		if c.Node != nil {
			s.touchNode(*c.Node, c.Type == TypeNodeJoined, at)
		}
	case TypeNodeLeft:
		if c.Node != nil {
			delete(s.Nodes, c.Node.ID)
		}
	case TypeShardAssigned:
		if a := c.Shard; a != nil {
			p := s.pipeline(a.Pipeline)
			p.Shards[a.Shard] = ShardAssignment{Pipeline: a.Pipeline, Shard: a.Shard, Node: a.Node, Epoch: index}
			r.Epoch = index
		}
	case TypeCompact:
		if c.Compact != nil {
			s.compact(c.Compact.Before)
		}
	}
	return r
}

// markApplied records id as applied and reports whether it was new. A zero
// id is always new (only tests and tools apply commands without ids).
func (s *state) markApplied(id CommandID, at time.Time) bool {
	if id.IsZero() {
		return true
	}
	se := s.Sessions[id.Session]
	if se == nil {
		se = &session{}
		s.Sessions[id.Session] = se
	}
	if id.Seq <= se.Floor {
		return false
	}
	if _, dup := se.Above[id.Seq]; dup {
		return false
	}
	if at.After(se.Last) {
		se.Last = at // only applied commands count: a duplicate changes nothing
	}
	if id.Seq == se.Floor+1 {
		se.Floor++
		for {
			if _, ok := se.Above[se.Floor+1]; !ok {
				break
			}
			delete(se.Above, se.Floor+1)
			se.Floor++
		}
	} else {
		if se.Above == nil {
			se.Above = map[uint64]struct{}{}
		}
		se.Above[id.Seq] = struct{}{}
		for len(se.Above) > maxAboveFloor {
			// Give up on the oldest gap: jump the floor to the smallest
			// applied seq and absorb what follows it contiguously.
			se.Floor = slices.Min(slices.Collect(maps.Keys(se.Above)))
			delete(se.Above, se.Floor)
			for {
				if _, ok := se.Above[se.Floor+1]; !ok {
					break
				}
				delete(se.Above, se.Floor+1)
				se.Floor++
			}
		}
	}
	if len(se.Above) == 0 {
		se.Above = nil
	}
	return true
}

// record merges one partition report: the status only moves up (failed <
// dead-lettered < done), so reports are idempotent by partition id and a
// late failure never undoes a success; reports of equal status are ordered
// by supersedes. The merge is commutative on the detailed records.
func (p *pipelineState) record(r PartitionRecord) {
	if st, ok := p.Compacted[r.ID]; ok {
		if r.Status <= st {
			return
		}
		p.Counters.add(&PartitionRecord{Status: st}, -1)
		delete(p.Compacted, r.ID)
		p.Counters.Compacted--
	} else if cur, ok := p.Partitions[r.ID]; ok {
		switch {
		case r.Status < cur.Status:
			return
		case r.Status == cur.Status && !supersedes(&r, cur):
			return
		}
		p.Counters.add(cur, -1)
	}
	p.Partitions[r.ID] = &r
	p.Counters.add(&r, +1)
}

// supersedes orders two reports of the same status for one partition (two
// nodes may both process a partition whose AckWait expired): more attempts,
// then the later time, then the greater node id, rows, bytes, sequence,
// subject and error win. The order is total on the compared fields (all but
// Outputs), so the kept report does not depend on the order reports arrive
// in.
func supersedes(r, cur *PartitionRecord) bool {
	if r.Attempts != cur.Attempts {
		return r.Attempts > cur.Attempts
	}
	if !r.Time.Equal(cur.Time) {
		return r.Time.After(cur.Time)
	}
	if r.Node != cur.Node {
		return r.Node > cur.Node
	}
	if r.Rows != cur.Rows {
		return r.Rows > cur.Rows
	}
	if r.Bytes != cur.Bytes {
		return r.Bytes > cur.Bytes
	}
	if r.StreamSeq != cur.StreamSeq {
		return r.StreamSeq > cur.StreamSeq
	}
	if r.Subject != cur.Subject {
		return r.Subject > cur.Subject
	}
	return r.Error > cur.Error
}

func (c *Counters) add(r *PartitionRecord, sign int64) {
	switch r.Status {
	case StatusDone:
		c.Done += sign
		c.Rows += sign * r.Rows
		c.Bytes += sign * r.Bytes
	case StatusFailed:
		c.Failed += sign
	case StatusDeadLettered:
		c.DeadLettered += sign
	}
}

// newerCheckpoint orders checkpoints by (Covers, Time, Object name, bucket,
// digest, Watermark), so the kept one does not depend on the order commands
// arrive in.
func newerCheckpoint(a, b Checkpoint) bool {
	if a.Covers != b.Covers {
		return a.Covers > b.Covers
	}
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	if a.Object != b.Object {
		return a.Object.Name > b.Object.Name || (a.Object.Name == b.Object.Name && (a.Object.Bucket > b.Object.Bucket || (a.Object.Bucket == b.Object.Bucket && a.Object.Digest > b.Object.Digest)))
	}
	return a.Watermark > b.Watermark
}

func (s *state) touchNode(n NodeInfo, joined bool, at time.Time) {
	t := n.Time
	if !at.IsZero() {
		t = at // the leader's clock, from the log: one clock for all nodes
	}
	cur := s.Nodes[n.ID]
	if cur == nil {
		cur = &NodeStatus{NodeInfo: NodeInfo{ID: n.ID}, Joined: t}
		s.Nodes[n.ID] = cur
	}
	if joined && cur.Joined.IsZero() {
		cur.Joined = t
	}
	if n.RaftAddr != "" {
		cur.RaftAddr = n.RaftAddr
	}
	if n.HTTPAddr != "" {
		cur.HTTPAddr = n.HTTPAddr
	}
	if n.Role != "" {
		cur.Role = n.Role
	}
	if t.After(cur.LastHeartbeat) {
		cur.LastHeartbeat = t
		cur.Time = t
	}
}

func (s *state) compact(before time.Time) {
	for _, p := range s.Pipelines {
		for id, r := range p.Partitions {
			if r.Status >= StatusDeadLettered && r.Time.Before(before) {
				p.Compacted[id] = r.Status
				delete(p.Partitions, id)
				p.Counters.Compacted++
			}
		}
	}
	for id, se := range s.Sessions {
		if se.Last.Before(before) {
			delete(s.Sessions, id)
		}
	}
}

// IsDone reports whether the partition id of pipeline is recorded as done
// (compacted records included). The runner calls it before processing a
// partition and acks the message at once when it returns true.
func (f *FSM) IsDone(pipeline, id string) bool {
	return f.PartitionStatus(pipeline, id) == StatusDone
}

// PartitionStatus returns the partition's status, StatusUnknown if the
// catalog has no record of it.
func (f *FSM) PartitionStatus(pipeline, id string) PartitionStatus {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p := f.st.Pipelines[pipeline]
	if p == nil {
		return StatusUnknown
	}
	if r, ok := p.Partitions[id]; ok {
		return r.Status
	}
	return p.Compacted[id]
}

// Partition returns a copy of the partition's detailed record; ok is false
// if there is none (unknown, or compacted: see PartitionStatus).
func (f *FSM) Partition(pipeline, id string) (rec PartitionRecord, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p := f.st.Pipelines[pipeline]
	if p == nil {
		return rec, false
	}
	r, ok := p.Partitions[id]
	if !ok {
		return rec, false
	}
	rec = *r
	rec.Outputs = slices.Clone(r.Outputs)
	return rec, true
}

// Checkpoint returns the latest checkpoint of a pipeline's shard.
func (f *FSM) Checkpoint(pipeline string, shard int) (cp Checkpoint, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if p := f.st.Pipelines[pipeline]; p != nil {
		cp, ok = p.Checkpoints[shard]
	}
	return cp, ok
}

// Watermark returns the pipeline's effective watermark in Unix ms: the
// minimum over its sources. ok is false if no source reported one.
func (f *FSM) Watermark(pipeline string) (ms int64, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p := f.st.Pipelines[pipeline]
	if p == nil || len(p.Watermarks) == 0 {
		return 0, false
	}
	return slices.Min(slices.Collect(maps.Values(p.Watermarks))), true
}

// Watermarks returns a copy of the pipeline's watermarks by source, in Unix
// ms (nil if none).
func (f *FSM) Watermarks(pipeline string) map[string]int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if p := f.st.Pipelines[pipeline]; p != nil && len(p.Watermarks) > 0 {
		return maps.Clone(p.Watermarks)
	}
	return nil
}

// ShardOwner returns the current assignment of a pipeline's shard.
func (f *FSM) ShardOwner(pipeline string, shard int) (a ShardAssignment, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if p := f.st.Pipelines[pipeline]; p != nil {
		a, ok = p.Shards[shard]
	}
	return a, ok
}

// Nodes returns the node table sorted by id.
func (f *FSM) Nodes() []NodeStatus {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]NodeStatus, 0, len(f.st.Nodes))
	for _, id := range slices.Sorted(maps.Keys(f.st.Nodes)) {
		out = append(out, *f.st.Nodes[id])
	}
	return out
}

// Pipelines returns every pipeline's summary, sorted by name.
func (f *FSM) Pipelines() []PipelineStatus {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]PipelineStatus, 0, len(f.st.Pipelines))
	for _, name := range slices.Sorted(maps.Keys(f.st.Pipelines)) {
		p := f.st.Pipelines[name]
		ps := PipelineStatus{Name: name, Counters: p.Counters, Recent: len(p.Partitions)}
		if len(p.Watermarks) > 0 {
			ps.Watermarks = maps.Clone(p.Watermarks)
			ps.Watermark = slices.Min(slices.Collect(maps.Values(p.Watermarks)))
		}
		for _, shard := range slices.Sorted(maps.Keys(p.Checkpoints)) {
			ps.Checkpoints = append(ps.Checkpoints, p.Checkpoints[shard])
		}
		for _, shard := range slices.Sorted(maps.Keys(p.Shards)) {
			ps.Shards = append(ps.Shards, p.Shards[shard])
		}
		out = append(out, ps)
	}
	return out
}
