package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/pcs/window"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Fleet windows (the window system with shards = S, DESIGN section 7):
// aggregation in two phases. Any node computes the partial aggregates of
// the partitions it processes (window.Operator.Partials, no state),
// splits them by key hash (ShardOf) and publishes one partition per
// shard to <pipeline>.partials.<s> (every shard, empty ones too, carrying
// the rows' event-time bound in Pcs-Watermark, so each owner's watermark
// moves); then it records the input done and acks it like a stateless
// pipeline. The catalog's leader assigns each shard to one live node.
// The owner reads its shard's subject in stream order from the sequence
// after its last checkpoint, merges the partials (MergePartials), fires
// on the watermark (the minimum over producers, each producer's bound
// from Pcs-Watermark) and publishes the windows that fired with ids
// <pipeline>/w<s>/<partials seq>/<k>, and every checkpoint_interval
// checkpoints its state with the sequence it covers. A new owner after a
// failure restores the checkpoint and replays from the next sequence: the
// same partials in the same order fire the same results under the same
// ids, which JetStream's duplicate window drops.

// shardOwners runs the owner side of a fleet window pipeline on a node:
// the leader assigns shards, every node runs the owners of its shards.
type shardOwners struct {
	pipeline, node string
	stream         string // the partials stream
	shards         int
	every          time.Duration // checkpoint interval
	plan           *plan.Plan    // makes each shard's window operator
	js             jetstream.JetStream
	cat            *catalog.Catalog
	out            *outputs // publishes the windows that fired and late partials
	m              *Metrics
	log            *slog.Logger

	mu      sync.Mutex
	running map[int]context.CancelFunc
	wg      sync.WaitGroup
	stats   shardStats // for metrics and status (observe.go)
}

// run reconciles shard assignment and owners every 250 ms until ctx ends.
func (so *shardOwners) run(ctx context.Context) {
	so.running = map[int]context.CancelFunc{}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	lastTrim := time.Now()
	for {
		if so.cat.IsLeader() {
			so.assign(ctx)
			if time.Since(lastTrim) >= trimEvery {
				so.trim(ctx)
				lastTrim = time.Now()
			}
		}
		so.reconcile(ctx)
		select {
		case <-ctx.Done():
			so.mu.Lock()
			for _, cancel := range so.running {
				cancel()
			}
			so.mu.Unlock()
			so.wg.Wait()
			return
		case <-t.C:
		}
	}
}

// assign gives shard s to the s-th of the sorted live members (modulo
// their number), so the shards spread evenly over the fleet and move when
// a node joins or leaves: the old owner stops (its state since its last
// checkpoint is dropped) and the new one restores that checkpoint and
// replays the partials after it, publishing the same results under the
// same ids.
func (so *shardOwners) assign(ctx context.Context) {
	st := so.cat.Status()
	var live []string
	for _, sv := range st.Servers {
		live = append(live, sv.ID)
	}
	if len(live) == 0 {
		return
	}
	slices.Sort(live)
	name := so.pipeline
	for s := range so.shards {
		want := live[s%len(live)]
		if a, ok := so.cat.ShardOwner(name, s); ok && a.Node == want {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := so.cat.Apply(actx, catalog.NewShardAssigned(name, s, want))
		cancel()
		if err != nil {
			so.log.Warn("shard assignment failed", "shard", s, "err", err)
		}
	}
}

// trimEvery is how often the leader trims the partials stream.
const trimEvery = 5 * time.Second

// trim deletes the partials every shard's checkpoint covers (below the
// lowest covered stream sequence of all shards): no owner replays them
// again. Nothing is trimmed until every shard has a checkpoint.
func (so *shardOwners) trim(ctx context.Context) {
	low := uint64(math.MaxUint64)
	for s := range so.shards {
		cp, ok := so.cat.Checkpoint(ownerKey(so.pipeline), s)
		if !ok {
			return
		}
		low = min(low, cp.Covers)
	}
	if low == 0 {
		return
	}
	stream, err := so.js.Stream(ctx, so.stream)
	if err == nil {
		err = stream.Purge(ctx, jetstream.WithPurgeSequence(low+1))
	}
	if err != nil {
		so.log.Warn("partials not trimmed", "below_seq", low+1, "err", err)
		return
	}
	so.log.Debug("partials trimmed", "below_seq", low+1)
}

// reconcile starts the owners of this node's shards and stops the others.
func (so *shardOwners) reconcile(ctx context.Context) {
	so.mu.Lock()
	defer so.mu.Unlock()
	for s := range so.shards {
		a, ok := so.cat.ShardOwner(so.pipeline, s)
		mine := ok && a.Node == so.node
		cancel, running := so.running[s]
		switch {
		case mine && !running:
			octx, cancel := context.WithCancel(ctx)
			so.running[s] = cancel
			so.wg.Add(1)
			go func() {
				defer so.wg.Done()
				for octx.Err() == nil {
					if err := so.own(octx, s); err != nil && octx.Err() == nil {
						so.log.Warn("shard owner failed; restarting from its checkpoint", "shard", s, "err", err)
						sleep(octx, time.Second)
					}
				}
			}()
		case !mine && running:
			cancel()
			delete(so.running, s)
		}
	}
}

// ownerKey is the catalog pipeline key of a window pipeline's shard
// checkpoints.
func ownerKey(pipeline string) string { return pipeline + ".window" }

// own runs shard s until ctx ends or an error: restore, replay, merge,
// fire, publish, checkpoint.
func (so *shardOwners) own(ctx context.Context, s int) error {
	op, err := so.plan.NewWindow()
	if err != nil {
		return err
	}
	defer op.Close() // its state store, when the pipeline keeps state on disk
	obs, err := so.js.ObjectStore(ctx, CheckpointBucket)
	if err != nil {
		return err
	}
	start, last := uint64(1), ""
	if cp, ok := so.cat.Checkpoint(ownerKey(so.pipeline), s); ok {
		data, err := readCheckpoint(ctx, obs, cp)
		if err != nil {
			return fmt.Errorf("shard %d: %w", s, err)
		}
		if err := op.Restore(data); err != nil {
			return fmt.Errorf("shard %d checkpoint %s: %w", s, cp.Object.Name, err)
		}
		start, last = cp.Covers+1, cp.Object.Name
	}
	r, err := natsjs.OpenOrdered(ctx, so.js, so.stream, natsjs.PartialsSubject(so.pipeline, s), start)
	if err != nil {
		return fmt.Errorf("shard %d consumer: %w", s, err)
	}
	defer r.Close()
	so.log.Info("shard owner started", "shard", s, "from_seq", start)
	covered := start - 1
	checkpoint := func(seq uint64) error {
		if seq == covered {
			return nil
		}
		if a, ok := so.cat.ShardOwner(so.pipeline, s); !ok || a.Node != so.node {
			return fmt.Errorf("shard %d: no longer the owner", s)
		}
		t0 := time.Now()
		data, err := op.Snapshot()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s/w%d/%d", so.pipeline, s, seq)
		cp := catalog.Checkpoint{Pipeline: ownerKey(so.pipeline), Shard: s, Covers: seq, Watermark: op.Watermark(), Time: time.Now(),
			Object: catalog.ObjectRef{Name: name}}
		if err := writeCheckpoint(ctx, obs, so.cat, cp, data); err != nil {
			return err
		}
		dropCheckpoint(ctx, obs, last, so.log)
		covered, last = seq, name
		so.m.checkpoints.WithLabelValues(so.pipeline).Inc()
		so.m.checkpointed(so.pipeline, len(data), time.Since(t0))
		return nil
	}
	// Merge in stream order; checkpoint every interval between two
	// partitions (Next returns at the checkpoint time if none arrives).
	seq := covered
	next := time.Now().Add(so.every)
	for {
		nctx, cancel := context.WithDeadline(ctx, next)
		p, err := r.Next(nctx)
		cancel()
		if time.Now().After(next) {
			if err := checkpoint(seq); err != nil {
				return err
			}
			next = time.Now().Add(so.every)
		}
		switch {
		case ctx.Err() != nil:
			return nil // stopped
		case errors.Is(err, context.DeadlineExceeded):
			continue
		case err != nil:
			return err
		}
		seq = p.StreamSeq()
		if err := so.merge(ctx, op, s, seq, p); err != nil {
			return fmt.Errorf("shard %d, partials seq %d: %w", s, seq, err)
		}
		so.observe(s, op)
	}
}

// merge folds one partials partition into op and publishes what fired.
func (so *shardOwners) merge(ctx context.Context, op *window.Operator, s int, seq uint64, p *natsjs.Partition) error {
	m, err := p.Meta()
	if err != nil {
		return err
	}
	source := "?"
	if len(m.Lineage) > 0 {
		source = m.Lineage[0]
		if i := strings.LastIndexByte(source, '/'); i > 0 {
			source = source[:i]
		}
	}
	recs, err := p.Decode(ctx, nil, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	k := 0
	publish := func(out window.Output, err error) error {
		if err != nil {
			return err
		}
		_, err = so.out.publish(ctx, natsjs.WindowOutputID(so.pipeline, s, seq, k), natsjs.WindowOutputID(so.pipeline, s, seq, k+1), p.ID(), out.Results, out.Late)
		k += 2
		return err
	}
	for _, rec := range recs {
		if err == nil && rec.NumRows() > 0 {
			err = publish(op.MergePartials(ctx, source, rec))
		}
		rec.Release()
	}
	if err != nil {
		return err
	}
	if !m.Watermark.IsZero() {
		t := m.Watermark.UnixMilli()
		if m.IsEndOfInput() {
			t = math.MaxInt64
		}
		return publish(op.Observe(ctx, source, t))
	}
	return nil
}
