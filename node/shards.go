package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/pcs/window"
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

// finalWatermark marks a producer's end of input in Pcs-Watermark: any
// time at or after it means +inf (every window fires).
var finalWatermark = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// partialsSubject is shard s's subject of a pipeline.
func partialsSubject(pipeline string, s int) string {
	return pipeline + ".partials." + strconv.Itoa(s)
}

// partialsStream is the stream holding a pipeline's partials.
func partialsStream(pc PipelineConfig) string { return pc.Input.Stream + "_PARTIALS" }

// routePartials publishes the partial aggregates of the pipeline's output
// rows (released here) to every shard and returns the ids published and
// the rows without an event time (late; the caller releases them).
func (r *runner) routePartials(ctx context.Context, p *natsjs.Partition, id string, rows arrow.RecordBatch) ([]string, arrow.RecordBatch, error) {
	r.winMu.Lock()
	out, err := r.win.Partials(ctx, rows)
	var shard []int32
	if err == nil && out.Results != nil {
		shard, err = r.win.ShardOf(out.Results, r.windowShards, nil)
	}
	r.winMu.Unlock()
	rows.Release()
	if err != nil {
		out.Release()
		return nil, nil, fmt.Errorf("window partials: %w", err)
	}
	part := out.Results
	if part == nil {
		part = emptyBatch(r.win.PartialSchema())
	} else {
		defer part.Release()
	}
	// The event-time bound: the producer's final watermark, else the
	// largest event time of the rows (the partials' last column).
	var wm time.Time
	if isFinal(p) {
		if err := r.awaitEarlier(ctx, id); err != nil {
			return nil, out.Late, err
		}
		wm = finalWatermark
	} else if part.NumRows() > 0 {
		maxT := slices.Max(part.Column(int(part.NumCols()) - 1).(*array.Int64).Int64Values())
		wm = time.UnixMilli(maxT).UTC()
	}
	var ids []string
	for s := range r.windowShards {
		var idx []int32
		for i, sh := range shard {
			if int(sh) == s {
				idx = append(idx, int32(i))
			}
		}
		batch, err := takeRows(ctx, part, idx)
		if err != nil {
			return nil, out.Late, err
		}
		outID := natsjs.OutputID(r.cfg.Name, id, 2+s)
		pending, err := r.partials[s].PublishAsync(ctx, []arrow.RecordBatch{batch}, natsjs.Meta{ID: outID, Lineage: []string{id}, Watermark: wm})
		batch.Release()
		if err == nil {
			_, err = pending.Wait(ctx)
		}
		if err != nil {
			return nil, out.Late, fmt.Errorf("publish %s: %w", outID, err)
		}
		ids = append(ids, outID)
	}
	return ids, out.Late, nil
}

// awaitEarlier waits until the catalog has every earlier partition of the
// producer of partition id ("<source>/<seq>", sequences from 1) as done,
// so that a producer's final watermark reaches the shards after all its
// partials: the fleet processes partitions concurrently, and a final
// watermark that overtook earlier partitions would fire their windows
// before their rows arrived. The partition stays alive meanwhile
// (InProgress).
func (r *runner) awaitEarlier(ctx context.Context, id string) error {
	i := strings.LastIndexByte(id, '/')
	n, err := strconv.ParseUint(id[i+1:], 10, 64)
	if i <= 0 || err != nil {
		return nil // not a producer's "<source>/<seq>" id: nothing to order against
	}
	source := id[:i]
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for k := uint64(1); k < n; {
		if r.cat.IsDone(r.cfg.Name, natsjs.PartitionID(source, k)) {
			k++
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// takeRows returns rows idx of rec (the caller releases it).
func takeRows(ctx context.Context, rec arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	if len(idx) == int(rec.NumRows()) {
		rec.Retain()
		return rec, nil
	}
	b := array.NewInt32Builder(memory.DefaultAllocator)
	b.AppendValues(idx, nil)
	ind := b.NewInt32Array()
	b.Release()
	defer ind.Release()
	out, err := compute.Take(ctx, compute.TakeOptions{BoundsCheck: false}, compute.NewDatumWithoutOwning(rec), compute.NewDatumWithoutOwning(ind))
	if err != nil {
		return nil, err
	}
	return out.(*compute.RecordDatum).Value, nil
}

// shardOwners runs the owner side of a fleet window pipeline on a node:
// the leader assigns shards, every node runs the owners of its shards.
type shardOwners struct {
	r       *runner
	mu      sync.Mutex
	running map[int]context.CancelFunc
	wg      sync.WaitGroup
}

// run reconciles shard assignment and owners every 250 ms until ctx ends.
func (so *shardOwners) run(ctx context.Context) {
	so.running = map[int]context.CancelFunc{}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if so.r.cat.IsLeader() {
			so.assign(ctx)
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

// assign gives every shard whose owner is not a live member to a live
// one (shard s to the s-th of the sorted members, so a full fleet spreads
// the shards evenly).
func (so *shardOwners) assign(ctx context.Context) {
	st := so.r.cat.Status()
	var live []string
	for _, sv := range st.Servers {
		live = append(live, sv.ID)
	}
	if len(live) == 0 {
		return
	}
	slices.Sort(live)
	name := so.r.cfg.Name
	for s := range so.r.windowShards {
		if a, ok := so.r.cat.ShardOwner(name, s); ok && slices.Contains(live, a.Node) {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := so.r.cat.Apply(actx, catalog.NewShardAssigned(name, s, live[s%len(live)]))
		cancel()
		if err != nil {
			so.r.log.Warn("shard assignment failed", "shard", s, "err", err)
		}
	}
}

// reconcile starts the owners of this node's shards and stops the others.
func (so *shardOwners) reconcile(ctx context.Context) {
	so.mu.Lock()
	defer so.mu.Unlock()
	for s := range so.r.windowShards {
		a, ok := so.r.cat.ShardOwner(so.r.cfg.Name, s)
		mine := ok && a.Node == so.r.nodeID
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
						so.r.log.Warn("shard owner failed; restarting from its checkpoint", "shard", s, "err", err)
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
	r := so.r
	op, err := r.plan.newWindow(memory.DefaultAllocator)
	if err != nil {
		return err
	}
	obs, err := r.js.ObjectStore(ctx, CheckpointBucket)
	if err != nil {
		return err
	}
	start, last := uint64(1), ""
	if cp, ok := r.cat.Checkpoint(ownerKey(r.cfg.Name), s); ok {
		data, err := readCheckpoint(ctx, obs, cp)
		if err != nil {
			return fmt.Errorf("shard %d: %w", s, err)
		}
		if err := op.Restore(data); err != nil {
			return fmt.Errorf("shard %d checkpoint %s: %w", s, cp.Object.Name, err)
		}
		start, last = cp.Covers+1, cp.Object.Name
	}
	cons, err := r.js.OrderedConsumer(ctx, partialsStream(r.cfg), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{partialsSubject(r.cfg.Name, s)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: start})
	if err != nil {
		return fmt.Errorf("shard %d consumer: %w", s, err)
	}
	r.log.Info("shard owner started", "shard", s, "from_seq", start)
	covered := start - 1
	checkpoint := func(seq uint64) error {
		if seq == covered {
			return nil
		}
		if a, ok := r.cat.ShardOwner(r.cfg.Name, s); !ok || a.Node != r.nodeID {
			return fmt.Errorf("shard %d: no longer the owner", s)
		}
		data, err := op.Snapshot()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s/w%d/%d", r.cfg.Name, s, seq)
		cp := catalog.Checkpoint{Pipeline: ownerKey(r.cfg.Name), Shard: s, Covers: seq, Watermark: op.Watermark(), Time: time.Now(),
			Object: catalog.ObjectRef{Name: name}}
		if err := writeCheckpoint(ctx, obs, r.cat, cp, data); err != nil {
			return err
		}
		dropCheckpoint(ctx, obs, last, r.log)
		covered, last = seq, name
		r.m.checkpoints.WithLabelValues(r.cfg.Name).Inc()
		return nil
	}
	every := time.Duration(r.cfg.CheckpointInterval)
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("shard %d consumer: %w", s, err)
	}
	defer it.Stop()
	// Next blocks until a message arrives: wake it for checkpoints and
	// to stop.
	wake := time.NewTicker(every)
	defer wake.Stop()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			it.Stop()
		case <-stopped:
		}
	}()
	msgs := make(chan jetstream.Msg)
	errc := make(chan error, 1)
	go func() {
		for {
			msg, err := it.Next()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- msg:
			case <-stopped:
				return
			}
		}
	}()
	seq := covered
	for {
		var msg jetstream.Msg
		select {
		case <-wake.C:
			if err := checkpoint(seq); err != nil {
				return err
			}
			continue
		case err := <-errc:
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		case msg = <-msgs:
		}
		md, err := msg.Metadata()
		if err != nil {
			return err
		}
		seq = md.Sequence.Stream
		if err := so.merge(ctx, op, s, seq, natsjs.NewPartition(msg)); err != nil {
			return fmt.Errorf("shard %d, partials seq %d: %w", s, seq, err)
		}
	}
}

// merge folds one partials partition into op and publishes what fired.
func (so *shardOwners) merge(ctx context.Context, op *window.Operator, s int, seq uint64, p *natsjs.Partition) error {
	r := so.r
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
	recs, err := p.Decode(ctx, r.js, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	k := 0
	publish := func(out window.Output, err error) error {
		if err != nil {
			return err
		}
		ids := []string{fmt.Sprintf("%s/w%d/%d/%d", r.cfg.Name, s, seq, k), fmt.Sprintf("%s/w%d/%d/%d", r.cfg.Name, s, seq, k+1)}
		k += 2
		_, err = r.publishWith(ctx, ids, p.ID(), out.Results, out.Late)
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
		if !m.Watermark.Before(finalWatermark) {
			t = math.MaxInt64
		}
		return publish(op.Observe(ctx, source, t))
	}
	return nil
}
