package node

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// delivery is one pipeline's delivery loop on this node (package doc):
// fetch -> decode -> step -> emit -> settle.
type delivery struct {
	cfg    plan.Pipeline
	plan   *plan.Plan
	log    *slog.Logger
	m      *Metrics
	cons   *natsjs.Consumer
	cat    *catalog.Catalog // nil without [catalog]
	emit   emitter
	settle *settler
	fail   *failures
	ckpt   *checkpointer // nil: settle acks at once
	bp     *backpressure
	owners *shardOwners // fleet windows only
	// exhausted dead-letters partitions past max_deliver (exhausted.go).
	exhausted *exhausted
	// publishers are the pipeline's publishers (sink, late, shards),
	// closed by Node.Close.
	publishers []*natsjs.Publisher
}

// run fetches and processes partitions until ctx is done, then waits for
// in-flight partitions, which work under work (cancelled at the end of the
// drain deadline; unfinished partitions are then nak'ed).
//
// max_in_flight workers process partitions in the order they were
// fetched; the fetch loop keeps up to max_in_flight more fetched ahead,
// so the next pull's round trip overlaps the work instead of waiting for
// a worker to finish (a prefetched partition's ack wait runs from its
// delivery: it waits at most one partition's processing).
func (d *delivery) run(ctx, work context.Context) {
	slots := make(chan struct{}, 2*d.cfg.MaxInFlight) // fetched and not done
	queue := make(chan *natsjs.Partition, d.cfg.MaxInFlight)
	var wg sync.WaitGroup
	for range d.cfg.MaxInFlight {
		wg.Go(func() {
			for p := range queue {
				d.process(work, p)
				<-slots
			}
		})
	}
	defer wg.Wait()
	defer func() { // after the drain and the last checkpoint's acks (deferred below)
		wg.Wait()
		d.settle.wm.flush()
	}()
	go d.bp.watch(ctx)
	go d.exhausted.run(ctx)
	go d.settle.wm.run(ctx, time.Second)
	if d.owners != nil {
		done := make(chan struct{})
		go func() { d.owners.run(ctx); close(done) }()
		defer func() { <-done }()
	}
	if d.ckpt != nil {
		go d.ckpt.loop(ctx, time.Duration(d.cfg.CheckpointInterval))
		defer func() { // after the drain: cover what the last runs did
			wg.Wait()
			if err := d.ckpt.checkpoint(work); err != nil {
				d.log.Warn("final checkpoint failed; its partitions will be redelivered", "err", err)
			}
			d.ckpt.close()
		}()
	}
	defer close(queue) // runs first: the workers finish what was fetched, then stop
	d.fetch(ctx, slots, queue)
}

// fetch pulls partitions into queue until ctx is done, while the
// partitions fetched and not done are fewer than slots holds (each takes
// a slot; the worker that finishes it frees it) and backpressure allows.
func (d *delivery) fetch(ctx context.Context, slots chan struct{}, queue chan<- *natsjs.Partition) {
	for ctx.Err() == nil {
		if d.bp.paused.Load() {
			sleep(ctx, d.bp.poll)
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
		for n < cap(slots) && trySend(slots) {
			n++
		}
		parts, err := d.cons.Fetch(ctx, n, int(d.cfg.Delivery.FetchMaxBytes))
		for i := len(parts); i < n; i++ {
			<-slots
		}
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("fetch failed", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for _, p := range parts {
			queue <- p
		}
	}
}

// process carries one partition through decode, step, emit and settle.
// Every outcome is one of: acked after its outputs were acknowledged (or
// held for a checkpoint that acks it), nak'ed for redelivery, or
// dead-lettered and terminated.
func (d *delivery) process(ctx context.Context, p *natsjs.Partition) {
	name := d.cfg.Name
	t0 := time.Now()
	d.m.inFlight.WithLabelValues(name).Inc()
	defer d.m.inFlight.WithLabelValues(name).Dec()
	stop := p.KeepAlive(time.Duration(d.cfg.Delivery.AckWait) / 3)
	held := false // handed to the checkpointer with its heartbeats
	defer func() {
		if !held {
			stop()
		}
	}()
	id := p.Key()
	if d.cat != nil && d.cat.IsDone(name, id) {
		d.settle.skip(p, id)
		return
	}

	recs, err := p.Decode(ctx, nil, memory.DefaultAllocator)
	if err != nil {
		if errors.Is(err, natsjs.ErrCorrupt) {
			d.fail.deadLetter(p, id, natsjs.ReasonCorrupt, err)
		} else {
			d.fail.retry(p, id, err)
		}
		return
	}
	d.m.bytesIn.WithLabelValues(name).Add(float64(p.Size()))
	if d.ckpt != nil {
		// From the step that changes the state to the partition joining
		// the checkpoint's pending list, no checkpoint may copy the state.
		// A failure on the way rolls the state back to the last checkpoint.
		d.ckpt.run.RLock()
		defer func() {
			d.ckpt.run.RUnlock()
			if !held && !errors.Is(err, plan.ErrSchema) {
				d.ckpt.rollback()
			}
		}()
	}
	meta, _ := p.Meta() // a malformed header failed Decode
	out, err := d.plan.Step(ctx, plan.Input{ID: id, Source: sourceOf(id), Batches: recs, Final: meta.IsEndOfInput()})
	d.m.rowsIn.WithLabelValues(name).Add(float64(out.RowsIn))
	for _, s := range out.Stats.Systems {
		d.m.systemSeconds.WithLabelValues(name, s.Name).Observe(s.Duration.Seconds())
	}
	if err != nil {
		d.fail.stepFailed(p, id, err)
		return
	}
	done := completed{h: p.Handle(), id: id, start: t0, stop: stop, source: sourceOf(id)}
	done.watermark, done.hasWatermark = watermarkOf(meta)
	if out.Results != nil {
		done.rowsOut = out.Results.NumRows()
	}
	rowsIn := out.RowsIn
	outputs, err := d.emit.emit(ctx, p, id, out)
	if err != nil {
		d.fail.retry(p, id, err)
		return
	}
	d.fail.store.ok() // the store took the outputs
	done.record = d.settle.rec.of(p, id, catalog.StatusDone, rowsIn, outputs, nil)
	if d.ckpt != nil { // acked once a checkpoint covers it
		d.ckpt.hold(done)
		held = true
		return
	}
	if err := d.settle.record(ctx, done); err != nil {
		d.fail.retry(p, id, err)
		return
	}
	d.settle.ack(done)
}

// sourceOf is the producer of partition id "<source>/<seq>": the window's
// watermark source.
func sourceOf(id string) string {
	if i := strings.LastIndexByte(id, '/'); i > 0 {
		return id[:i]
	}
	return id
}

func trySend(ch chan struct{}) bool {
	select {
	case ch <- struct{}{}:
		return true
	default:
		return false
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
