package catalog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// CommandID identifies a command for idempotence: the FSM applies each ID at
// most once (see the package doc, "Idempotence"). Session names the issuer
// and Seq numbers its commands from 1 upwards. A Catalog fills in a zero ID
// itself (Session = its node id plus an incarnation suffix chosen at Open,
// Seq = a counter), so most callers leave it zero. Callers that set it must
// never reuse a (Session, Seq) pair for a different command, including after
// a restart: put an incarnation (start time, random) into Session.
type CommandID struct {
	// Session names the issuer, e.g. "n1.18c2f3a9b0". Non-empty.
	Session string `json:"s"`
	// Seq is the issuer's sequence number, >= 1.
	Seq uint64 `json:"q"`
}

// IsZero reports whether the ID is unset.
func (id CommandID) IsZero() bool { return id.Session == "" && id.Seq == 0 }

// String formats the ID as "session/seq".
func (id CommandID) String() string { return id.Session + "/" + strconv.FormatUint(id.Seq, 10) }

// CommandType names what a Command does. The values are stored in the Raft
// log: never change them.
type CommandType string

// The command types.
const (
	// TypePartitionDone records one partition as done (Command.Partitions has
	// one record).
	TypePartitionDone CommandType = "partition_done"
	// TypePartitionFailed records one failed attempt of a partition that will
	// be retried (nak).
	TypePartitionFailed CommandType = "partition_failed"
	// TypePartitionDeadLettered records one partition sent to the dead-letter
	// subject.
	TypePartitionDeadLettered CommandType = "partition_dead_lettered"
	// TypeBatch records many partitions at once, each with its own Status:
	// the runner's way to record completions (many partitions per Raft
	// entry).
	TypeBatch CommandType = "batch"
	// TypeCheckpointCommitted records a shard checkpoint stored in the object
	// store.
	TypeCheckpointCommitted CommandType = "checkpoint_committed"
	// TypeWatermarkAdvanced moves a source's watermark forward (never back).
	TypeWatermarkAdvanced CommandType = "watermark_advanced"
	// TypeNodeJoined registers a node (the leader applies it on Join).
	TypeNodeJoined CommandType = "node_joined"
	// TypeNodeLeft removes a node from the node table.
	TypeNodeLeft CommandType = "node_left"
	// TypeHeartbeat refreshes a node's last heartbeat (and registers it if
	// unknown).
	TypeHeartbeat CommandType = "heartbeat"
	// TypeShardAssigned makes a node the owner of a pipeline's shard.
	TypeShardAssigned CommandType = "shard_assigned"
	// TypeCompact folds old completed-partition records into the
	// per-pipeline compacted id sets and forgets idle sessions.
	TypeCompact CommandType = "compact"
)

// PartitionStatus is the state of a partition in the catalog. The order is a
// rank: a partition's status only moves up (Failed < DeadLettered < Done),
// whatever order reports arrive in.
type PartitionStatus uint8

// Partition statuses.
const (
	// StatusUnknown: the catalog has no record of the partition.
	StatusUnknown PartitionStatus = iota
	// StatusFailed: an attempt failed and the partition was nak'ed for retry.
	StatusFailed
	// StatusDeadLettered: the partition went to the dead-letter subject.
	StatusDeadLettered
	// StatusDone: the partition was processed and its outputs published.
	StatusDone
)

var statusNames = [...]string{"unknown", "failed", "dead_lettered", "done"}

// String returns "unknown", "failed", "dead_lettered" or "done".
func (s PartitionStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the status by name.
func (s PartitionStatus) MarshalText() ([]byte, error) {
	if int(s) >= len(statusNames) {
		return nil, fmt.Errorf("%w: partition status %d", ErrCorrupt, s)
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText decodes a status name.
func (s *PartitionStatus) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if string(b) == n {
			*s = PartitionStatus(i)
			return nil
		}
	}
	return fmt.Errorf("%w: partition status %q", ErrCorrupt, b)
}

// PartitionRecord is what the catalog keeps about one partition.
type PartitionRecord struct {
	// Pipeline is the pipeline name. Required.
	Pipeline string `json:"pipeline"`
	// ID is the partition id (the message's Nats-Msg-Id). Required; unique
	// within the pipeline.
	ID string `json:"id"`
	// Status is what happened. The New* constructors set it; in a Batch each
	// record carries its own. Must not be StatusUnknown.
	Status PartitionStatus `json:"status"`
	// Subject is the input subject the partition came from.
	Subject string `json:"subject,omitempty"`
	// StreamSeq is the partition's JetStream stream sequence.
	StreamSeq uint64 `json:"stream_seq,omitempty"`
	// Rows is the input row count; Bytes the input payload size in bytes.
	Rows  int64 `json:"rows,omitempty"`
	Bytes int64 `json:"bytes,omitempty"`
	// Outputs are the ids of the output partitions published.
	Outputs []string `json:"outputs,omitempty"`
	// Attempts is the number of delivery attempts so far (>= 1 normally).
	Attempts int `json:"attempts,omitempty"`
	// Node is the id of the node that processed the partition.
	Node string `json:"node,omitempty"`
	// Error is the failure reason of a failed or dead-lettered partition.
	Error string `json:"error,omitempty"`
	// Time is when the node finished with the partition (the node's clock).
	Time time.Time `json:"time"`
}

// ObjectRef names an object in a JetStream object-store bucket.
type ObjectRef struct {
	// Bucket and Name locate the object.
	Bucket string `json:"bucket"`
	Name   string `json:"name"`
	// Digest is the object's content digest (e.g. "SHA-256=..."), checked on
	// restore.
	Digest string `json:"digest,omitempty"`
}

// Checkpoint references a shard's state stored in the object store.
type Checkpoint struct {
	// Pipeline and Shard name the keyed state the checkpoint belongs to.
	Pipeline string `json:"pipeline"`
	Shard    int    `json:"shard"`
	// Object is where the state is.
	Object ObjectRef `json:"object"`
	// Covers is the input position the state includes: every partial (or
	// stream message) with a sequence <= Covers is in it, so a new owner
	// replays from Covers+1. The catalog keeps the checkpoint with the
	// highest Covers (ties: the later Time, then the greater object name).
	Covers uint64 `json:"covers"`
	// Watermark is the shard's watermark at the checkpoint, in Unix ms.
	Watermark int64 `json:"watermark_ms"`
	// Time is when the checkpoint was written.
	Time time.Time `json:"time"`
}

// WatermarkUpdate moves one source's watermark of a pipeline.
type WatermarkUpdate struct {
	// Pipeline is the pipeline name; Source names one of its inputs (a
	// producer, a subject). Both free-form; Pipeline required.
	Pipeline string `json:"pipeline"`
	Source   string `json:"source"`
	// Watermark is in Unix milliseconds. Lower values than the current one
	// are ignored: watermarks never go back.
	Watermark int64 `json:"watermark_ms"`
}

// NodeInfo describes a node of the fleet.
type NodeInfo struct {
	// ID is the node id (Config.NodeID). Required.
	ID string `json:"id"`
	// RaftAddr is the node's advertised Raft address (host:port).
	RaftAddr string `json:"raft_addr,omitempty"`
	// HTTPAddr is the node's control-plane address, if any.
	HTTPAddr string `json:"http_addr,omitempty"`
	// Role is a free-form role ("worker", "shard-owner", ...).
	Role string `json:"role,omitempty"`
	// Time is the event time: join time for NodeJoined, heartbeat time for
	// Heartbeat (stamped by the leader when it proposes the command, so all
	// heartbeats are on one clock), leave time for NodeLeft.
	Time time.Time `json:"time"`
}

// ShardAssignment makes Node the owner of a pipeline's shard.
type ShardAssignment struct {
	// Pipeline and Shard name the shard; Node is the owner's node id.
	Pipeline string `json:"pipeline"`
	Shard    int    `json:"shard"`
	Node     string `json:"node"`
	// Epoch is set by the FSM to the Raft log index of the assignment: it
	// grows with every assignment and serves as a fencing token. Ignored in
	// commands.
	Epoch uint64 `json:"epoch,omitempty"`
}

// CompactRequest folds terminal (done, dead-lettered) partition records with
// a Time before Before into the compacted id sets (IsDone still answers
// for them; the per-pipeline counters are kept), and forgets command sessions
// whose last command is older than Before.
type CompactRequest struct {
	// Before is the cutoff (usually now minus the retention period).
	Before time.Time `json:"before"`
}

// Command is one change to the catalog. Build it with a New* constructor;
// exactly the payload field its Type names is set. Commands are encoded as
// JSON in the Raft log.
type Command struct {
	// ID makes the command idempotent. Leave zero to let the Catalog assign
	// one.
	ID CommandID `json:"id"`
	// Type says what the command does and which payload it has.
	Type CommandType `json:"type"`
	// Partitions: one record for the Partition* types, one or more for
	// TypeBatch.
	Partitions []PartitionRecord `json:"partitions,omitempty"`
	// Checkpoint for TypeCheckpointCommitted.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	// Watermark for TypeWatermarkAdvanced.
	Watermark *WatermarkUpdate `json:"watermark,omitempty"`
	// Node for TypeNodeJoined, TypeNodeLeft and TypeHeartbeat.
	Node *NodeInfo `json:"node,omitempty"`
	// Shard for TypeShardAssigned.
	Shard *ShardAssignment `json:"shard,omitempty"`
	// Compact for TypeCompact.
	Compact *CompactRequest `json:"compact,omitempty"`
}

func partitionCommand(t CommandType, s PartitionStatus, rec PartitionRecord) Command {
	rec.Status = s
	return Command{Type: t, Partitions: []PartitionRecord{rec}}
}

// NewPartitionDone returns a TypePartitionDone command for rec (its Status
// is set to StatusDone).
func NewPartitionDone(rec PartitionRecord) Command {
	return partitionCommand(TypePartitionDone, StatusDone, rec)
}

// NewPartitionFailed returns a TypePartitionFailed command for rec (Status
// set to StatusFailed).
func NewPartitionFailed(rec PartitionRecord) Command {
	return partitionCommand(TypePartitionFailed, StatusFailed, rec)
}

// NewPartitionDeadLettered returns a TypePartitionDeadLettered command for
// rec (Status set to StatusDeadLettered).
func NewPartitionDeadLettered(rec PartitionRecord) Command {
	return partitionCommand(TypePartitionDeadLettered, StatusDeadLettered, rec)
}

// NewBatch returns a TypeBatch command recording every record with its own
// Status. The slice is used as is (not copied).
func NewBatch(recs ...PartitionRecord) Command {
	return Command{Type: TypeBatch, Partitions: recs}
}

// NewCheckpointCommitted returns a TypeCheckpointCommitted command.
func NewCheckpointCommitted(cp Checkpoint) Command {
	return Command{Type: TypeCheckpointCommitted, Checkpoint: &cp}
}

// NewWatermarkAdvanced returns a TypeWatermarkAdvanced command; watermarkMs
// is in Unix milliseconds.
func NewWatermarkAdvanced(pipeline, source string, watermarkMs int64) Command {
	return Command{Type: TypeWatermarkAdvanced, Watermark: &WatermarkUpdate{Pipeline: pipeline, Source: source, Watermark: watermarkMs}}
}

// NewNodeJoined returns a TypeNodeJoined command.
func NewNodeJoined(n NodeInfo) Command { return Command{Type: TypeNodeJoined, Node: &n} }

// NewNodeLeft returns a TypeNodeLeft command for node id at time t.
func NewNodeLeft(id string, t time.Time) Command {
	return Command{Type: TypeNodeLeft, Node: &NodeInfo{ID: id, Time: t}}
}

// NewHeartbeat returns a TypeHeartbeat command.
func NewHeartbeat(n NodeInfo) Command { return Command{Type: TypeHeartbeat, Node: &n} }

// NewShardAssigned returns a TypeShardAssigned command.
func NewShardAssigned(pipeline string, shard int, node string) Command {
	return Command{Type: TypeShardAssigned, Shard: &ShardAssignment{Pipeline: pipeline, Shard: shard, Node: node}}
}

// NewCompact returns a TypeCompact command with the given cutoff (usually
// now minus the retention period).
func NewCompact(before time.Time) Command {
	return Command{Type: TypeCompact, Compact: &CompactRequest{Before: before}}
}

// Validate checks that the payload matches Type and the required fields are
// set. It returns an error wrapping ErrInvalidCommand, or nil. The ID is not
// checked (a zero ID is filled in by Catalog.Apply).
func (c *Command) Validate() error {
	payloads := 0
	if len(c.Partitions) > 0 {
		payloads++
	}
	for _, set := range []bool{c.Checkpoint != nil, c.Watermark != nil, c.Node != nil, c.Shard != nil, c.Compact != nil} {
		if set {
			payloads++
		}
	}
	if payloads != 1 {
		return commandErr(c.Type, "needs exactly one payload, has %d", payloads)
	}
	switch c.Type {
	case TypePartitionDone, TypePartitionFailed, TypePartitionDeadLettered:
		if len(c.Partitions) != 1 {
			return commandErr(c.Type, "needs exactly one partition record, has %d", len(c.Partitions))
		}
		want := map[CommandType]PartitionStatus{TypePartitionDone: StatusDone, TypePartitionFailed: StatusFailed, TypePartitionDeadLettered: StatusDeadLettered}[c.Type]
		if c.Partitions[0].Status != want {
			return commandErr(c.Type, "record status %s, want %s", c.Partitions[0].Status, want)
		}
		return validRecord(c.Type, &c.Partitions[0])
	case TypeBatch:
		for i := range c.Partitions {
			if err := validRecord(c.Type, &c.Partitions[i]); err != nil {
				return err
			}
		}
	case TypeCheckpointCommitted:
		cp := c.Checkpoint
		if cp == nil || cp.Pipeline == "" || cp.Object.Bucket == "" || cp.Object.Name == "" {
			return commandErr(c.Type, "needs checkpoint pipeline, object bucket and name")
		}
	case TypeWatermarkAdvanced:
		if c.Watermark == nil || c.Watermark.Pipeline == "" {
			return commandErr(c.Type, "needs watermark pipeline")
		}
	case TypeNodeJoined, TypeNodeLeft, TypeHeartbeat:
		if c.Node == nil || c.Node.ID == "" {
			return commandErr(c.Type, "needs node id")
		}
	case TypeShardAssigned:
		if c.Shard == nil || c.Shard.Pipeline == "" || c.Shard.Node == "" {
			return commandErr(c.Type, "needs shard pipeline and node")
		}
	case TypeCompact:
		if c.Compact == nil {
			return commandErr(c.Type, "needs compact payload")
		}
	default:
		return commandErr(c.Type, "unknown command type")
	}
	return nil
}

func validRecord(t CommandType, r *PartitionRecord) error {
	switch {
	case r.Pipeline == "":
		return commandErr(t, "partition %q: pipeline required", r.ID)
	case r.ID == "":
		return commandErr(t, "pipeline %q: partition id required", r.Pipeline)
	case r.Status == StatusUnknown || r.Status > StatusDone:
		return commandErr(t, "partition %q: status %s", r.ID, r.Status)
	}
	return nil
}

// normalize puts times in UTC without monotonic readings so that every node
// decodes and encodes identical values.
func (c *Command) normalize() {
	for i := range c.Partitions {
		c.Partitions[i].Time = utc(c.Partitions[i].Time)
	}
	if c.Checkpoint != nil {
		c.Checkpoint.Time = utc(c.Checkpoint.Time)
	}
	if c.Node != nil {
		c.Node.Time = utc(c.Node.Time)
	}
	if c.Compact != nil {
		c.Compact.Before = utc(c.Compact.Before)
	}
}

func utc(t time.Time) time.Time { return t.Round(0).UTC() }

// Result is the outcome of one applied command.
type Result struct {
	// Applied is false when the command's ID had already been applied: the
	// command was a duplicate and changed nothing.
	Applied bool `json:"applied"`
	// Index is the Raft log index of the entry that carried the command.
	Index uint64 `json:"index"`
	// Epoch is the shard's new epoch for TypeShardAssigned (a fencing token),
	// the current one for a duplicate; 0 otherwise.
	Epoch uint64 `json:"epoch,omitempty"`
}

// entryVersion is the first byte of every Raft log entry this package
// writes; the rest is the JSON array of commands.
const entryVersion = 1

func encodeEntry(cmds []Command) ([]byte, error) {
	b, err := json.Marshal(cmds)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+1)
	out = append(out, entryVersion)
	return append(out, b...), nil
}

func decodeEntry(data []byte) ([]Command, error) {
	if len(data) == 0 || data[0] != entryVersion {
		return nil, fmt.Errorf("%w: log entry version %v", ErrCorrupt, firstByte(data))
	}
	var cmds []Command
	if err := json.Unmarshal(data[1:], &cmds); err != nil {
		return nil, fmt.Errorf("%w: log entry: %v", ErrCorrupt, err)
	}
	return cmds, nil
}

func firstByte(b []byte) any {
	if len(b) == 0 {
		return "empty"
	}
	return b[0]
}
