package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/window"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// Dead-letter headers, added to the original partition's headers on the
// message sent to <pipeline>.dlq (part of the public contract).
const (
	HeaderError        = "Pcs-Error"         // the error message (at most 1 KiB)
	HeaderErrorReason  = "Pcs-Error-Reason"  // corrupt, schema, permanent or max_deliver
	HeaderSourceStream = "Pcs-Source-Stream" // stream of the original message
	HeaderSourceSeq    = "Pcs-Source-Seq"    // its stream sequence
	HeaderDeliveries   = "Pcs-Deliveries"    // delivery attempts so far
	HeaderNode         = "Pcs-Node"          // node that dead-lettered it
)

// Reasons a partition is dead-lettered (label of
// pcs_partitions_dead_lettered_total and value of Pcs-Error-Reason).
const (
	ReasonCorrupt    = "corrupt"     // undecodable body, bad headers, missing or tampered object
	ReasonSchema     = "schema"      // columns do not fit the input component
	ReasonPermanent  = "permanent"   // a system returned a permanent error (or panicked)
	ReasonMaxDeliver = "max_deliver" // a retryable failure on the last allowed delivery
)

// runner runs one pipeline of a node: the delivery protocol of DESIGN
// section 5 over a durable pull consumer.
type runner struct {
	*plan
	cfg       PipelineConfig
	nodeID    string
	log       *slog.Logger
	m         *Metrics
	mem       memory.Allocator
	js        jetstream.JetStream
	cons      jetstream.Consumer
	outStream jetstream.Stream
	pub       *natsjs.Publisher
	paused    atomic.Bool
	cat       *catalog.Catalog // nil without [catalog]
	ckpt      *checkpointer    // nil without stateful systems (or catalog)
	win       *window.Operator // the window system's operator, or nil
	winMu     sync.Mutex       // win is driven by one partition at a time
	late      *natsjs.Publisher
	partials  []*natsjs.Publisher // per shard, with windowShards > 0
}

// run fetches and processes partitions until ctx is done, then waits for
// in-flight partitions, which work under work (cancelled at the end of the
// drain deadline; unfinished partitions are then nak'ed).
func (r *runner) run(ctx, work context.Context) {
	slots := make(chan struct{}, r.cfg.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	go r.watchBackpressure(ctx)
	if r.win != nil && r.windowShards > 0 {
		owners := &shardOwners{r: r}
		done := make(chan struct{})
		go func() { owners.run(ctx); close(done) }()
		defer func() { <-done }()
	}
	if r.ckpt != nil {
		go r.ckpt.loop(ctx, time.Duration(r.cfg.CheckpointInterval))
		defer func() { // after the drain: cover what the last runs did
			wg.Wait()
			if err := r.ckpt.checkpoint(work); err != nil {
				r.log.Warn("final checkpoint failed; its partitions will be redelivered", "err", err)
			}
		}()
	}
	poll := time.Duration(r.cfg.Backpressure.Poll)
	for ctx.Err() == nil {
		if r.paused.Load() {
			sleep(ctx, poll)
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
		for n < r.cfg.MaxInFlight && trySend(slots) {
			n++
		}
		parts, err := natsjs.Fetch(ctx, r.cons, n, int(r.cfg.Delivery.FetchMaxBytes))
		for i := len(parts); i < n; i++ {
			<-slots
		}
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("fetch failed", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for _, p := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				r.process(work, p)
			}()
		}
	}
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

// process runs one partition through decode, pipeline, publish and ack.
// Every outcome is one of: acked after its outputs were acknowledged,
// nak'ed for redelivery, or dead-lettered and terminated.
func (r *runner) process(ctx context.Context, p *natsjs.Partition) {
	name := r.cfg.Name
	t0 := time.Now()
	r.m.inFlight.WithLabelValues(name).Inc()
	defer r.m.inFlight.WithLabelValues(name).Dec()
	stop := r.keepAlive(p)
	held := false // handed to the checkpointer with its heartbeats
	defer func() {
		if !held {
			stop()
		}
	}()
	id := partitionID(p)
	log := r.log.With("partition", id, "delivery", p.Delivered())
	if r.cat != nil && r.cat.IsDone(name, id) {
		// Done before (its outputs are published): a redelivery after a
		// node died between recording and acking. Ack without work.
		r.ackDone(p, log)
		return
	}

	recs, err := p.Decode(ctx, r.js, r.mem)
	if err != nil {
		if errors.Is(err, natsjs.ErrCorrupt) {
			r.deadLetter(p, id, ReasonCorrupt, err)
		} else {
			r.retryLater(p, id, err)
		}
		return
	}
	r.m.bytesIn.WithLabelValues(name).Add(float64(p.Size()))
	ds, err := r.dataset(ctx, r.mem, id, recs)
	if err != nil {
		r.deadLetter(p, id, ReasonSchema, err)
		return
	}
	defer ds.Release()
	rowsIn := int64(ds.Len()) // before the pipeline deletes any
	r.m.rowsIn.WithLabelValues(name).Add(float64(rowsIn))
	if r.ckpt != nil {
		// From the run that changes the state to the partition joining the
		// pending list, no checkpoint may copy the state. A failure on the
		// way rolls the state back to the last checkpoint.
		r.ckpt.run.RLock()
		defer func() {
			r.ckpt.run.RUnlock()
			if !held {
				r.ckpt.rollback()
			}
		}()
	}
	var stats pcs.RunStats
	if r.pipeline != nil {
		stats, err = r.pipeline.Run(ctx, ds)
	}
	for _, s := range stats.Systems {
		r.m.systemSeconds.WithLabelValues(name, s.Name).Observe(s.Duration.Seconds())
	}
	if err != nil {
		if pcs.IsPermanent(err) {
			r.deadLetter(p, id, ReasonPermanent, err)
		} else {
			r.retryLater(p, id, err)
		}
		return
	}
	if err := ds.Compact(ctx); err != nil {
		r.retryLater(p, id, err)
		return
	}
	out := r.output(ds)
	var late arrow.RecordBatch
	var routed []string
	switch {
	case r.win != nil && r.windowShards > 0: // fleet windows: partials to the shard owners
		routed, late, err = r.routePartials(ctx, p, id, out)
		if err != nil {
			if late != nil {
				late.Release()
			}
			r.retryLater(p, id, err)
			return
		}
		out = nil // the shard owners publish the results
	case r.win != nil:
		if out, late, err = r.windowed(ctx, id, isFinal(p), out); err != nil {
			r.deadLetter(p, id, ReasonPermanent, err)
			return
		}
	}
	var rows int64
	if out != nil {
		rows = out.NumRows()
	}
	outputs, err := r.publishOutputs(ctx, id, out, late)
	outputs = append(routed, outputs...)
	if err != nil {
		r.retryLater(p, id, err)
		return
	}
	if r.ckpt != nil { // acked once a checkpoint covers it
		r.ckpt.hold(pendingPartition{p: p, id: id, rows: rowsIn, rowsOut: rows, outputs: outputs, stop: stop})
		held = true
		return
	}
	if err := r.record(ctx, p, id, catalog.StatusDone, rowsIn, outputs, nil); err != nil {
		r.retryLater(p, id, fmt.Errorf("catalog: %w", err))
		return
	}
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Ack(actx); err != nil {
		// The outputs are published under deterministic ids: the
		// redelivery this causes is deduplicated downstream.
		log.Warn("ack failed; the partition will be redelivered", "err", err)
		return
	}
	r.m.processed.WithLabelValues(name).Inc()
	r.m.rowsOut.WithLabelValues(name).Add(float64(rows))
	r.m.pipelineSecond.WithLabelValues(name).Observe(time.Since(t0).Seconds())
	log.Debug("processed", "rows_in", rowsIn, "rows_out", rows, "took", time.Since(t0))
}

// keepAlive sends InProgress every AckWait/3 until stop is called, so
// the server does not redeliver a partition that is still being worked on.
func (r *runner) keepAlive(p *natsjs.Partition) (stop func()) {
	done := make(chan struct{})
	every := time.Duration(r.cfg.Delivery.AckWait) / 3
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = p.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// retryLater naks p for redelivery with a delay doubling per delivery, or
// dead-letters it on its last allowed delivery.
func (r *runner) retryLater(p *natsjs.Partition, id string, cause error) {
	if int(p.Delivered()) >= r.cfg.Delivery.MaxDeliver {
		r.deadLetter(p, id, ReasonMaxDeliver, cause)
		return
	}
	delay := time.Duration(r.cfg.Delivery.NakDelay) << min(p.Delivered()-1, 16)
	delay = min(delay, 30*time.Second)
	r.m.failed.WithLabelValues(r.cfg.Name).Inc()
	r.log.Warn("partition failed; nak for redelivery", "partition", id, "delivery", p.Delivered(), "retry_in", delay, "err", cause)
	r.recordBestEffort(p, id, catalog.StatusFailed, cause)
	if err := p.Nak(delay); err != nil {
		r.log.Warn("nak failed; the server redelivers after ack_wait", "partition", id, "err", err)
	}
}

// deadLetter publishes the original partition (body and headers) to
// <pipeline>.dlq with the error headers, then terminates it. If the DLQ
// publish fails the partition is nak'ed instead: nothing is dropped.
func (r *runner) deadLetter(p *natsjs.Partition, id, reason string, cause error) {
	msg := p.Msg()
	h := nats.Header{}
	for k, v := range msg.Headers() {
		h[k] = append([]string(nil), v...)
	}
	errText := cause.Error()
	if len(errText) > 1024 {
		errText = errText[:1024]
	}
	h.Set(HeaderError, errText)
	h.Set(HeaderErrorReason, reason)
	h.Set(HeaderDeliveries, strconv.FormatUint(p.Delivered(), 10))
	h.Set(HeaderNode, r.nodeID)
	if md, err := msg.Metadata(); err == nil {
		h.Set(HeaderSourceStream, md.Stream)
		h.Set(HeaderSourceSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	}
	h.Set(natsjs.HeaderMsgID, r.cfg.Name+"/"+id+"/dlq")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, &nats.Msg{Subject: r.cfg.Name + ".dlq", Header: h, Data: msg.Data()}); err != nil {
		r.log.Error("dead-letter publish failed; nak instead", "partition", id, "err", err)
		_ = p.Nak(time.Duration(r.cfg.Delivery.NakDelay))
		return
	}
	r.recordBestEffort(p, id, catalog.StatusDeadLettered, cause)
	if err := p.Term(reason); err != nil {
		r.log.Warn("term failed", "partition", id, "err", err)
	}
	r.m.deadLettered.WithLabelValues(r.cfg.Name, reason).Inc()
	r.log.Error("partition dead-lettered", "partition", id, "reason", reason, "subject", r.cfg.Name+".dlq", "err", cause)
}

// partitionID is the partition's id, or stream/seq for foreign messages
// without one.
func partitionID(p *natsjs.Partition) string {
	if id := p.ID(); id != "" {
		return id
	}
	if md, err := p.Msg().Metadata(); err == nil {
		return md.Stream + "/" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	return "unknown"
}

// watchBackpressure pauses fetching while the output stream holds at
// least HighWater of its max_bytes, and resumes at LowWater.
func (r *runner) watchBackpressure(ctx context.Context) {
	bp := r.cfg.Backpressure
	t := time.NewTicker(time.Duration(bp.Poll))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		info, err := r.outStream.Info(ctx)
		if err != nil || info.Config.MaxBytes <= 0 {
			continue
		}
		fill := float64(info.State.Bytes) / float64(info.Config.MaxBytes)
		switch {
		case !r.paused.Load() && fill >= bp.HighWater:
			r.paused.Store(true)
			r.m.paused.WithLabelValues(r.cfg.Name).Set(1)
			r.log.Warn("output stream above high water; fetching paused", "stream", info.Config.Name, "fill", fill)
		case r.paused.Load() && fill <= bp.LowWater:
			r.paused.Store(false)
			r.m.paused.WithLabelValues(r.cfg.Name).Set(0)
			r.log.Info("output stream below low water; fetching resumed", "stream", info.Config.Name, "fill", fill)
		}
	}
}

// recordBestEffort records a failure or dead letter in the catalog; the
// partition's fate does not depend on it (the status only ranks up).
func (r *runner) recordBestEffort(p *natsjs.Partition, id string, status catalog.PartitionStatus, cause error) {
	if r.cat == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.record(ctx, p, id, status, 0, nil, cause); err != nil {
		r.log.Warn("catalog record failed", "partition", id, "status", status, "err", err)
	}
}

// ackDone acks a partition the catalog has as done.
func (r *runner) ackDone(p *natsjs.Partition, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Ack(ctx); err != nil {
		log.Warn("ack of a done partition failed; it will be redelivered and skipped again", "err", err)
		return
	}
	r.m.skippedDone.WithLabelValues(r.cfg.Name).Inc()
	log.Info("partition already done (catalog): acked without reprocessing")
}

// windowed feeds the pipeline's output rows (released here) to the window
// operator and returns the windows that fired and the late rows (either
// may be nil; the caller releases both). The partition's source for the
// watermark is its producer (the id up to its last '/').
func (r *runner) windowed(ctx context.Context, id string, final bool, rows arrow.RecordBatch) (results, late arrow.RecordBatch, err error) {
	source := id
	if i := strings.LastIndexByte(id, '/'); i > 0 {
		source = id[:i]
	}
	r.winMu.Lock()
	out, err := r.win.Process(ctx, source, rows)
	if err == nil && final {
		// The producer's end of input: every window fires.
		var flushed window.Output
		if flushed, err = r.win.Flush(ctx); err == nil {
			out.Results, err = concatBatches(r.outSchema, out.Results, flushed.Results)
		}
	}
	r.winMu.Unlock()
	rows.Release()
	if err != nil {
		out.Release()
		return nil, nil, fmt.Errorf("window: %w", err)
	}
	return out.Results, out.Late, nil
}

// isFinal reports whether p carries its producer's final watermark.
func isFinal(p *natsjs.Partition) bool {
	m, err := p.Meta()
	return err == nil && !m.Watermark.Before(finalWatermark)
}

// concatBatches returns a and b (either may be nil; both released here)
// as one RecordBatch of schema, or nil when both are nil.
func concatBatches(schema *arrow.Schema, a, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	switch {
	case a == nil:
		return b, nil
	case b == nil:
		return a, nil
	}
	defer a.Release()
	defer b.Release()
	cols := make([]arrow.Array, 0, schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i := 0; i < schema.NumFields(); i++ {
		c, err := array.Concatenate([]arrow.Array{a.Column(i), b.Column(i)}, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return array.NewRecordBatch(schema, cols, a.NumRows()+b.NumRows()), nil
}

// emptyBatch returns a RecordBatch of schema with no rows.
func emptyBatch(schema *arrow.Schema) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	return b.NewRecordBatch()
}

// publishOutputs publishes a partition's output (id <pipeline>/<input>/0)
// and late rows (to <pipeline>.late, id <pipeline>/<input>/1), each
// unless nil or empty, waits for their acks, releases both and returns
// the ids published.
func (r *runner) publishOutputs(ctx context.Context, id string, out, late arrow.RecordBatch) ([]string, error) {
	return r.publishWith(ctx, []string{natsjs.OutputID(r.cfg.Name, id, 0), natsjs.OutputID(r.cfg.Name, id, 1)}, id, out, late)
}

// publishWith publishes out to the output subject and late to
// <pipeline>.late under ids[0] and ids[1], each if not empty, with
// lineage, waits for their acks, releases both and returns the ids
// published.
func (r *runner) publishWith(ctx context.Context, ids []string, lineage string, out, late arrow.RecordBatch) ([]string, error) {
	var done []string
	for _, rec := range []arrow.RecordBatch{out, late} {
		if rec != nil {
			defer rec.Release()
		}
	}
	for k, b := range []struct {
		rec arrow.RecordBatch
		pub *natsjs.Publisher
	}{{out, r.pub}, {late, r.late}} {
		if b.rec == nil || b.rec.NumRows() == 0 {
			continue
		}
		pending, err := b.pub.PublishAsync(ctx, []arrow.RecordBatch{b.rec}, natsjs.Meta{ID: ids[k], Lineage: []string{lineage}})
		if err == nil {
			_, err = pending.Wait(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", ids[k], err)
		}
		done = append(done, ids[k])
		if k == 1 {
			r.m.lateRows.WithLabelValues(r.cfg.Name).Add(float64(b.rec.NumRows()))
		}
	}
	return done, nil
}
