package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// CheckpointBucket is the JetStream object store bucket of stateful
// systems' checkpoints.
const CheckpointBucket = "pcs-checkpoints"

// checkpointMagic starts a checkpoint object: then a uint32 (big endian)
// header length, the JSON header (ckptHeader), and each system's state
// as a Dataset IPC file (pcs.Dataset.WriteIPC), in header order.
const checkpointMagic = "PCSCKPT1"

type ckptHeader struct {
	Pipeline string       `json:"pipeline"`
	Node     string       `json:"node"`
	Seq      uint64       `json:"seq"`
	Systems  []ckptSystem `json:"systems"`
}

type ckptSystem struct {
	Name  string `json:"name"`
	Bytes int    `json:"bytes"`
}

// checkpointer makes the state of a pipeline's plan (plan.Plan.States:
// its stateful systems and window operator) survive a crash. The delivery
// loop processes partitions as usual but hands each to the checkpointer
// (hold) instead of settling it, its InProgress heartbeats running: every
// interval, between two steps, the checkpointer copies the state and the
// list of partitions processed since the last checkpoint, writes the state
// to the object store, commits the reference in the catalog (shard: this
// node's), and has the settler record the partitions done and ack them;
// then it deletes the previous object. After a crash the node restores the
// last committed state and the partitions it had not acked are
// redelivered: each counts exactly once in the state.
//
// The state is per node (the catalog shard is a hash of the node id): a
// node that never comes back leaves its state in the object store, where
// no other node adopts it.
type checkpointer struct {
	pipeline, node string
	nakDelay       time.Duration
	ackWait        time.Duration // held partitions get InProgress every ackWait/3
	states         []plan.State
	shard          int
	obs            jetstream.ObjectStore
	cat            *catalog.Catalog
	settle         *settler
	m              *Metrics
	log            *slog.Logger

	run       sync.RWMutex // steps hold R from the step to hold; a checkpoint or rollback holds W
	mu        sync.Mutex   // pending
	pending   []completed
	alive     natsjs.AckSet // the pending partitions' handles, kept from redelivery
	stopAlive func()
	seq       uint64
	last      string // the object of the last committed checkpoint
	lastData  []byte // its contents (the initial state before the first): what a rollback restores
}

// shardOf is the catalog shard of a node's per-node state.
func shardOf(nodeID string) int {
	h := fnv.New32a()
	h.Write([]byte(nodeID))
	return int(h.Sum32() & 0x7fffffff)
}

// newCheckpointer completes c (its pipeline, node, states, catalog,
// settler, metrics and log set) and restores the last committed
// checkpoint of this node's shard; it returns nil when the plan has no
// state or there is no catalog to commit to.
func newCheckpointer(ctx context.Context, c *checkpointer, js jetstream.JetStream) (*checkpointer, error) {
	if len(c.states) == 0 {
		return nil, nil
	}
	if c.cat == nil {
		c.log.Warn("stateful systems without [catalog]: their state is not checkpointed and a restart loses it")
		return nil, nil
	}
	obs, err := js.ObjectStore(ctx, CheckpointBucket)
	if err != nil {
		return nil, fmt.Errorf("checkpoint bucket %s: %w", CheckpointBucket, err)
	}
	c.obs, c.shard = obs, shardOf(c.node)
	if err := c.restore(ctx); err != nil {
		return nil, err
	}
	if c.lastData == nil { // nothing committed yet: a rollback returns to the empty state
		if c.lastData, err = c.encode(0); err != nil {
			return nil, err
		}
	}
	c.stopAlive = c.alive.KeepAlive(c.ackWait / 3)
	return c, nil
}

// close stops the held partitions' heartbeats (after the last
// checkpoint: what it did not cover is redelivered after ack_wait).
func (c *checkpointer) close() {
	c.stopAlive()
}

// restore loads the last committed checkpoint of this node's shard, if
// any (readCheckpoint checks its digest).
func (c *checkpointer) restore(ctx context.Context) error {
	cp, ok := c.cat.Checkpoint(c.pipeline, c.shard)
	if !ok {
		return nil
	}
	data, err := readCheckpoint(ctx, c.obs, cp)
	if err != nil {
		return err
	}
	h, err := c.load(data)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", cp.Object.Name, err)
	}
	c.seq, c.last, c.lastData = h.Seq, cp.Object.Name, data
	c.log.Info("state restored", "checkpoint", cp.Object.Name, "covers", cp.Covers, "states", len(h.Systems))
	return nil
}

// load restores every state from a checkpoint object.
func (c *checkpointer) load(data []byte) (ckptHeader, error) {
	h, parts, err := parseCheckpoint(data)
	if err != nil {
		return h, err
	}
	for i, sys := range h.Systems {
		e := c.entry(sys.Name)
		if e == nil {
			return h, fmt.Errorf("state %q is not in the pipeline", sys.Name)
		}
		if err := e.Load(parts[i]); err != nil {
			return h, fmt.Errorf("restore %q: %w", sys.Name, err)
		}
	}
	return h, nil
}

// readCheckpoint returns the contents of cp's object, checked against
// the digest the catalog committed (and, while reading, against the
// object's own: jetstream.ErrDigestMismatch).
func readCheckpoint(ctx context.Context, obs jetstream.ObjectStore, cp catalog.Checkpoint) ([]byte, error) {
	res, err := obs.Get(ctx, cp.Object.Name)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", cp.Object.Name, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", cp.Object.Name, err)
	}
	if d := cp.Object.Digest; d != "" && info.Digest != d {
		return nil, fmt.Errorf("checkpoint %s: digest %s differs from the catalog's %s", cp.Object.Name, info.Digest, d)
	}
	data, err := io.ReadAll(res)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", cp.Object.Name, err)
	}
	return data, nil
}

// writeCheckpoint stores data as cp's object (cp.Object.Name; the bucket
// and digest are filled in) and commits cp in the catalog.
func writeCheckpoint(ctx context.Context, obs jetstream.ObjectStore, cat *catalog.Catalog, cp catalog.Checkpoint, data []byte) error {
	info, err := obs.PutBytes(ctx, cp.Object.Name, data)
	if err != nil {
		return fmt.Errorf("put %s: %w", cp.Object.Name, err)
	}
	cp.Object.Bucket, cp.Object.Digest = CheckpointBucket, info.Digest
	if _, err := cat.Apply(ctx, catalog.NewCheckpointCommitted(cp)); err != nil {
		return fmt.Errorf("commit %s: %w", cp.Object.Name, err)
	}
	return nil
}

// dropCheckpoint deletes a superseded checkpoint object ("" none).
func dropCheckpoint(ctx context.Context, obs jetstream.ObjectStore, name string, log *slog.Logger) {
	if name == "" {
		return
	}
	if err := obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		log.Warn("old checkpoint not deleted", "object", name, "err", err)
	}
}

func (c *checkpointer) entry(name string) *plan.State {
	for i := range c.states {
		if c.states[i].Name == name {
			return &c.states[i]
		}
	}
	return nil
}

// hold adds a processed partition to the next checkpoint.
func (c *checkpointer) hold(done completed) {
	c.alive.Add(done.h) // one heartbeat for all held partitions
	done.stop()
	c.mu.Lock()
	c.pending = append(c.pending, done)
	c.mu.Unlock()
}

// loop checkpoints every interval until ctx is done.
func (c *checkpointer) loop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.checkpoint(ctx); err != nil {
				c.log.Warn("checkpoint failed; its partitions wait for the next one", "err", err)
			}
		}
	}
}

// checkpoint writes and commits a checkpoint covering the pending
// partitions, then acks them. On failure they stay pending (never nak'ed:
// the state in memory includes them).
func (c *checkpointer) checkpoint(ctx context.Context) error {
	c.run.Lock()
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.mu.Unlock()
	if len(batch) == 0 {
		c.run.Unlock()
		return nil
	}
	t0 := time.Now() // the checkpoint's duration counts the state copy
	data, err := c.encode(c.seq + 1)
	c.run.Unlock()
	if err == nil {
		err = c.commit(ctx, data, batch, t0)
	}
	if err != nil {
		c.mu.Lock()
		c.pending = append(batch, c.pending...)
		c.mu.Unlock()
		return err
	}
	c.release(batch)
	c.settle.ack(batch...)
	return nil
}

// encode copies every state into a checkpoint object.
func (c *checkpointer) encode(seq uint64) ([]byte, error) {
	h := ckptHeader{Pipeline: c.pipeline, Node: c.node, Seq: seq}
	var body bytes.Buffer
	for _, e := range c.states {
		b, err := e.Save()
		if err != nil {
			return nil, fmt.Errorf("checkpoint %q: %w", e.Name, err)
		}
		body.Write(b)
		h.Systems = append(h.Systems, ckptSystem{Name: e.Name, Bytes: len(b)})
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(checkpointMagic)+4+len(js)+body.Len())
	out = append(out, checkpointMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(js)))
	out = append(append(out, js...), body.Bytes()...)
	return out, nil
}

// parseCheckpoint splits a checkpoint object into its header and the
// systems' IPC files.
func parseCheckpoint(data []byte) (ckptHeader, [][]byte, error) {
	var h ckptHeader
	bad := errors.New("not a PCS checkpoint (bad framing)")
	if len(data) < len(checkpointMagic)+4 || string(data[:len(checkpointMagic)]) != checkpointMagic {
		return h, nil, bad
	}
	data = data[len(checkpointMagic):]
	n := int(binary.BigEndian.Uint32(data))
	data = data[4:]
	if n > len(data) {
		return h, nil, bad
	}
	if err := json.Unmarshal(data[:n], &h); err != nil {
		return h, nil, fmt.Errorf("header: %w", err)
	}
	data = data[n:]
	states := make([][]byte, len(h.Systems))
	for i, s := range h.Systems {
		if s.Bytes < 0 || s.Bytes > len(data) {
			return h, nil, bad
		}
		states[i], data = data[:s.Bytes], data[s.Bytes:]
	}
	return h, states, nil
}

// commit stores the object, commits its reference in the catalog and
// records the covered partitions done, then deletes the previous object;
// t0 is when the state copy began (pcs_checkpoint_duration_seconds).
func (c *checkpointer) commit(ctx context.Context, data []byte, batch []completed, t0 time.Time) error {
	seq := c.seq + 1
	name := c.pipeline + "/" + c.node + "/" + strconv.FormatUint(seq, 10)
	cp := catalog.Checkpoint{Pipeline: c.pipeline, Shard: c.shard, Covers: seq, Time: time.Now(), Object: catalog.ObjectRef{Name: name}}
	if err := writeCheckpoint(ctx, c.obs, c.cat, cp, data); err != nil {
		return err
	}
	// The state is committed with these partitions in it: they must not
	// run again. On failure the records are retried before any ack.
	if err := c.settle.record(ctx, batch...); err != nil {
		return err
	}
	dropCheckpoint(ctx, c.obs, c.last, c.log)
	c.seq, c.last, c.lastData = seq, name, data
	c.m.checkpoints.WithLabelValues(c.pipeline).Inc()
	c.m.checkpointed(c.pipeline, len(data), time.Since(t0))
	c.log.Debug("checkpoint committed", "object", name, "bytes", len(data), "partitions", len(batch))
	return nil
}

// release takes settled partitions out of the heartbeat set.
func (c *checkpointer) release(batch []completed) {
	for _, done := range batch {
		c.alive.Remove(done.h)
	}
}

// rollback returns the state to the last committed checkpoint after a
// partition failed once the state may have changed (a stateful system
// ran, or the window took its rows): the partitions processed since are
// nak'ed for redelivery, so each counts once in the state, as after a
// crash. The failed partition itself was nak'ed or dead-lettered by the
// caller.
func (c *checkpointer) rollback() {
	c.run.Lock()
	defer c.run.Unlock()
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.mu.Unlock()
	if _, err := c.load(c.lastData); err != nil {
		// Our own bytes: this is a bug, and the state is now unknown.
		panic(fmt.Sprintf("node: pipeline %q: rollback to checkpoint %q: %v", c.pipeline, c.last, err))
	}
	c.release(batch)
	c.settle.nak(c.nakDelay, batch...)
	c.log.Warn("a partition failed after the state changed: state rolled back to the last checkpoint", "checkpoint", c.last, "redelivered", len(batch))
}
