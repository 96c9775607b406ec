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
	"os"
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
// (plan.State.Save's bytes, or for a state kept as files the manifest of
// its files, see ckptfiles.go), in header order.
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
	Files bool   `json:"files,omitempty"` // the part is a filesPart
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
	files          map[string]*fileStore // the states kept as files (plan.State.SaveFiles), by name
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
	c.files = map[string]*fileStore{}
	for _, st := range c.states {
		if st.SaveFiles != nil {
			c.files[st.Name] = newFileStore(obs, c.pipeline, c.node, st.Name)
		}
	}
	if err := c.restore(ctx); err != nil {
		return nil, err
	}
	if c.lastData == nil { // nothing committed yet: a rollback returns to the empty state
		d, err := c.snap(0)
		if err != nil {
			return nil, err
		}
		data, parts, _, err := c.store(ctx, d, false)
		if err != nil {
			return nil, err
		}
		c.lastData = data
		c.keep(parts, d)
	}
	for _, f := range c.files {
		f.sweep(ctx, c.log)
	}
	c.stopAlive = c.alive.KeepAlive(c.ackWait / 3)
	return c, nil
}

// close stops the held partitions' heartbeats (after the last
// checkpoint: what it did not cover is redelivered after ack_wait) and
// removes the local copies of file states.
func (c *checkpointer) close() {
	c.stopAlive()
	for _, f := range c.files {
		f.close()
	}
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
	h, err := c.load(data, func(f *fileStore, p filesPart) (string, error) { return f.fetch(ctx, p) })
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", cp.Object.Name, err)
	}
	c.seq, c.last, c.lastData = h.Seq, cp.Object.Name, data
	c.log.Info("state restored", "checkpoint", cp.Object.Name, "covers", cp.Covers, "states", len(h.Systems))
	return nil
}

// load restores every state from a checkpoint object; dirOf gives the
// local directory of a file state's files (fetched, or the local copy of
// the last checkpoint), which becomes that state's rollback point, and a
// new generation of its files starts.
func (c *checkpointer) load(data []byte, dirOf func(*fileStore, filesPart) (string, error)) (ckptHeader, error) {
	h, parts, err := parseCheckpoint(data)
	if err != nil {
		return h, err
	}
	for i, sys := range h.Systems {
		e := c.entry(sys.Name)
		if e == nil {
			return h, fmt.Errorf("state %q is not in the pipeline", sys.Name)
		}
		if !sys.Files {
			if err := e.Load(parts[i]); err != nil {
				return h, fmt.Errorf("restore %q: %w", sys.Name, err)
			}
			continue
		}
		f := c.files[sys.Name]
		if f == nil {
			return h, fmt.Errorf("state %q: the checkpoint holds files, the pipeline's state does not", sys.Name)
		}
		p, err := decodePart(parts[i])
		if err != nil {
			return h, fmt.Errorf("restore %q: %w", sys.Name, err)
		}
		dir, err := dirOf(f, p)
		if err != nil {
			return h, fmt.Errorf("restore %q: %w", sys.Name, err)
		}
		if err := e.LoadFiles(p.Head, dir); err != nil {
			return h, fmt.Errorf("restore %q: %w", sys.Name, err)
		}
		f.setLast(p, dir)
		f.newGeneration()
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
// and digest are filled in) and commits cp in the catalog, together with
// the records of the partitions it covers.
func writeCheckpoint(ctx context.Context, obs jetstream.ObjectStore, cat *catalog.Catalog, cp catalog.Checkpoint, data []byte, covered ...catalog.PartitionRecord) error {
	info, err := obs.PutBytes(ctx, cp.Object.Name, data)
	if err != nil {
		return fmt.Errorf("put %s: %w", cp.Object.Name, err)
	}
	cp.Object.Bucket, cp.Object.Digest = CheckpointBucket, info.Digest
	// One Apply is one Raft entry: the checkpoint and the records of the
	// partitions it covers commit together or not at all, so no crash
	// can leave a committed state whose partitions run again.
	cmds := []catalog.Command{catalog.NewCheckpointCommitted(cp)}
	if len(covered) > 0 {
		cmds = append(cmds, catalog.NewBatch(covered...))
	}
	if _, err := cat.Apply(ctx, cmds...); err != nil {
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
	d, err := c.snap(c.seq + 1)
	c.run.Unlock()
	if err == nil {
		err = c.commit(ctx, d, batch, t0)
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

// draft is a copy of every state, taken between two steps, before it is
// stored: per state Save's bytes, or a file state's head and checkpoint
// directory.
type draft struct {
	seq   uint64
	parts []draftPart
}

type draftPart struct {
	name      string
	data      []byte
	head      []byte
	dir       string // "" unless a file state
	fileState bool
}

// remove deletes the draft's checkpoint directories that were not kept.
func (d draft) remove(kept func(dir string) bool) {
	for _, p := range d.parts {
		if p.dir != "" && !kept(p.dir) {
			os.RemoveAll(p.dir)
		}
	}
}

// snap copies every state (under c.run: no step runs).
func (c *checkpointer) snap(seq uint64) (draft, error) {
	d := draft{seq: seq}
	for _, e := range c.states {
		p := draftPart{name: e.Name, fileState: e.SaveFiles != nil}
		var err error
		if p.fileState {
			p.head, p.dir, err = e.SaveFiles()
		} else {
			p.data, err = e.Save()
		}
		if err != nil {
			d.remove(func(string) bool { return false })
			return draft{}, fmt.Errorf("checkpoint %q: %w", e.Name, err)
		}
		d.parts = append(d.parts, p)
	}
	return d, nil
}

// store returns the checkpoint object of d, with upload the files of its
// file states stored (ckptfiles.go; without, the manifests list no file:
// the initial state, restored only locally), their manifests by state
// name, and the bytes of files stored.
func (c *checkpointer) store(ctx context.Context, d draft, upload bool) ([]byte, map[string]filesPart, int64, error) {
	parts := map[string]filesPart{}
	var sent int64
	blobs := make([][]byte, len(d.parts))
	for i, p := range d.parts {
		if !p.fileState {
			blobs[i] = p.data
			continue
		}
		fp := filesPart{Head: p.head}
		if upload {
			var n int64
			var err error
			fp, n, err = c.files[p.name].upload(ctx, d.seq, p.head, p.dir)
			sent += n
			if err != nil {
				return nil, nil, sent, fmt.Errorf("checkpoint %q: %w", p.name, err)
			}
		}
		b, err := encodePart(fp)
		if err != nil {
			return nil, nil, sent, err
		}
		parts[p.name], blobs[i] = fp, b
	}
	data, err := c.encode(d, blobs)
	return data, parts, sent, err
}

// keep makes the file states' manifests and directories of d the
// rollback point (a commit's old objects are deleted by committed).
func (c *checkpointer) keep(parts map[string]filesPart, d draft) {
	for _, p := range d.parts {
		if p.fileState {
			c.files[p.name].setLast(parts[p.name], p.dir)
		}
	}
}

// encode frames the states' bytes as a checkpoint object.
func (c *checkpointer) encode(d draft, blobs [][]byte) ([]byte, error) {
	h := ckptHeader{Pipeline: c.pipeline, Node: c.node, Seq: d.seq}
	var body bytes.Buffer
	for i, p := range d.parts {
		body.Write(blobs[i])
		h.Systems = append(h.Systems, ckptSystem{Name: p.name, Bytes: len(blobs[i]), Files: p.fileState})
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

// commit stores the files of file states not stored before and the
// object, commits its reference in the catalog and records the covered
// partitions done (one catalog entry), then deletes the previous object
// and the files only it listed; t0 is when the state copy began
// (pcs_checkpoint_duration_seconds). On failure d's directories are
// removed.
func (c *checkpointer) commit(ctx context.Context, d draft, batch []completed, t0 time.Time) (err error) {
	committed := false
	defer func() {
		if !committed {
			d.remove(func(string) bool { return false })
		}
	}()
	data, parts, sent, err := c.store(ctx, d, true)
	if err != nil {
		return err
	}
	seq := d.seq
	name := c.pipeline + "/" + c.node + "/" + strconv.FormatUint(seq, 10)
	cp := catalog.Checkpoint{Pipeline: c.pipeline, Shard: c.shard, Covers: seq, Time: time.Now(), Object: catalog.ObjectRef{Name: name}}
	covered := make([]catalog.PartitionRecord, len(batch))
	for i, done := range batch {
		covered[i] = done.record
	}
	// The state is committed with these partitions in it, and the same
	// catalog entry records them done: they never run again.
	if err := writeCheckpoint(ctx, c.obs, c.cat, cp, data, covered...); err != nil {
		return err
	}
	committed = true
	for _, p := range d.parts {
		if p.fileState {
			c.files[p.name].committed(ctx, parts[p.name], p.dir, c.log)
		}
	}
	dropCheckpoint(ctx, c.obs, c.last, c.log)
	c.seq, c.last, c.lastData = seq, name, data
	c.m.checkpoints.WithLabelValues(c.pipeline).Inc()
	c.m.checkpointed(c.pipeline, len(data)+int(sent), time.Since(t0))
	c.log.Debug("checkpoint committed", "object", name, "bytes", len(data), "file_bytes", sent, "partitions", len(batch))
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
	if _, err := c.load(c.lastData, func(f *fileStore, _ filesPart) (string, error) { return f.dir, nil }); err != nil {
		// Our own bytes: this is a bug, and the state is now unknown.
		panic(fmt.Sprintf("node: pipeline %q: rollback to checkpoint %q: %v", c.pipeline, c.last, err))
	}
	c.release(batch)
	c.settle.nak(c.nakDelay, batch...)
	c.log.Warn("a partition failed after the state changed: state rolled back to the last checkpoint", "checkpoint", c.last, "redelivered", len(batch))
}
