package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// completed is a partition whose outputs are published: what settling it
// needs, without its body (a checkpoint may hold many).
type completed struct {
	h       *natsjs.AckHandle
	id      string
	record  catalog.PartitionRecord // status done
	rowsOut int64                   // output rows (metric)
	start   time.Time               // fetched
	stop    func()                  // its InProgress heartbeats (idempotent)
	// source and watermark (Unix ms; hasWatermark) of the partition's
	// producer, noted when it is acked (watermarks.go).
	source       string
	watermark    int64
	hasWatermark bool
}

// settler settles a pipeline's partitions: the one place that records
// them done in the catalog and acks them, at once (stateless plans) or
// when a checkpoint covers them (checkpoint.go).
type settler struct {
	pipeline string
	rec      recorder
	wm       *watermarks
	m        *Metrics
	log      *slog.Logger
}

// record records partitions done in the catalog (one batched command; a
// no-op without one). It must succeed before they are acked: a
// redelivered partition recorded done is then acked without work.
func (s *settler) record(ctx context.Context, batch ...completed) error {
	recs := make([]catalog.PartitionRecord, len(batch))
	for i, c := range batch {
		recs[i] = c.record
	}
	if err := s.rec.record(ctx, recs...); err != nil {
		return fmt.Errorf("catalog: record %d partitions: %w", len(batch), err)
	}
	return nil
}

// ack stops the partitions' heartbeats and double-acks them. A failed ack
// is logged: the outputs carry deterministic ids and the catalog has the
// partition done, so its redelivery publishes nothing new.
func (s *settler) ack(batch ...completed) {
	for _, c := range batch {
		c.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.h.Ack(ctx)
		cancel()
		if err != nil {
			s.log.Warn("ack failed; the partition will be redelivered", "partition", c.id, "err", err)
			continue
		}
		if c.hasWatermark {
			s.wm.note(c.source, c.watermark)
		}
		s.m.processed.WithLabelValues(s.pipeline).Inc()
		s.m.rowsOut.WithLabelValues(s.pipeline).Add(float64(c.rowsOut))
		s.m.pipelineSecond.WithLabelValues(s.pipeline).Observe(time.Since(c.start).Seconds())
		s.log.Debug("processed", "partition", c.id, "rows_in", c.record.Rows, "rows_out", c.rowsOut, "took", time.Since(c.start))
	}
}

// nak stops the partitions' heartbeats and naks them for redelivery after
// delay (a rollback of the state they were counted in).
func (s *settler) nak(delay time.Duration, batch ...completed) {
	for _, c := range batch {
		c.stop()
		if err := c.h.Nak(delay); err != nil {
			s.log.Warn("nak failed; the server redelivers after ack_wait", "partition", c.id, "err", err)
		}
	}
}

// skip acks a partition the catalog has as done (its outputs are
// published: a redelivery after a node died between recording and
// acking) without reprocessing it.
func (s *settler) skip(p *natsjs.Partition, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := s.log.With("partition", id, "delivery", p.Delivered())
	if err := p.Ack(ctx); err != nil {
		log.Warn("ack of a done partition failed; it will be redelivered and skipped again", "err", err)
		return
	}
	s.m.skippedDone.WithLabelValues(s.pipeline).Inc()
	log.Info("partition already done (catalog): acked without reprocessing")
}

// recorder writes a pipeline's partition records to the catalog (no-op
// without one).
type recorder struct {
	cat            *catalog.Catalog
	pipeline, node string
}

func (r recorder) record(ctx context.Context, recs ...catalog.PartitionRecord) error {
	if r.cat == nil {
		return nil
	}
	return r.cat.RecordPartitions(ctx, recs...)
}

// bestEffort records a failure or dead letter; the partition's fate does
// not depend on it (the status only ranks up).
func (r recorder) bestEffort(p *natsjs.Partition, id string, status catalog.PartitionStatus, cause error, log *slog.Logger) {
	if r.cat == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.record(ctx, r.of(p, id, status, 0, nil, cause)); err != nil {
		log.Warn("catalog record failed", "partition", id, "status", status, "err", err)
	}
}

// of is the catalog's record of partition p.
func (r recorder) of(p *natsjs.Partition, id string, status catalog.PartitionStatus, rows int64, outputs []string, cause error) catalog.PartitionRecord {
	rec := catalog.PartitionRecord{Pipeline: r.pipeline, ID: id, Status: status, Subject: p.Subject(), StreamSeq: p.StreamSeq(),
		Rows: rows, Bytes: int64(p.Size()), Outputs: outputs, Attempts: int(p.Delivered()), Node: r.node, Time: time.Now()}
	if cause != nil {
		rec.Error = cause.Error()
	}
	return rec
}
