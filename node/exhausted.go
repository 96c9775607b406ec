package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// exhausted dead-letters the partitions that ran out of deliveries
// without a node to dead-letter them: a partition that crashes or stalls
// every node that takes it is delivered max_deliver times, then the server
// stops delivering it and leaves it in the input stream, saying so only
// in a MAX_DELIVERIES advisory. The node provisions a work-queue stream
// that keeps those advisories (natsjs.AdvisoryStream) and a durable
// consumer on it shared by the fleet; for each advisory one node reads the
// partition by its stream sequence, publishes it to <pipeline>.dlq (reason
// max_deliver, Pcs-Deliveries the advisory's count), records it
// dead-lettered in the catalog, deletes it from the input stream and acks
// the advisory. A failure leaves the advisory for a retry.
type exhausted struct {
	pipeline, node string
	input          jetstream.Stream
	advisories     *natsjs.Consumer
	js             jetstream.JetStream
	rec            recorder
	m              *Metrics
	log            *slog.Logger
}

// maxDeliveries is the server's MAX_DELIVERIES advisory
// (io.nats.jetstream.advisory.v1.max_deliver).
type maxDeliveries struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// advisoryConsumer names the durable consumer of a pipeline's advisories.
func advisoryConsumer(consumer string) string { return consumer + "_exhausted" }

// run handles advisories until ctx is done.
func (e *exhausted) run(ctx context.Context) {
	for ctx.Err() == nil {
		ps, err := e.advisories.Fetch(ctx, 16, 1<<20)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("max-deliveries advisories: fetch failed", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for _, p := range ps {
			if err := e.handle(ctx, p); err != nil {
				e.log.Warn("max-deliveries advisory not handled; retried", "err", err)
				_ = p.Nak(time.Second)
				continue
			}
			actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := p.Ack(actx); err != nil {
				e.log.Warn("max-deliveries advisory: ack failed (it is handled again, harmlessly)", "err", err)
			}
			cancel()
		}
	}
}

// handle dead-letters the partition one advisory names.
func (e *exhausted) handle(ctx context.Context, p *natsjs.Partition) error {
	var a maxDeliveries
	if err := json.Unmarshal(p.Body(), &a); err != nil {
		e.log.Error("max-deliveries advisory not understood; dropped", "err", err)
		return nil
	}
	msg, err := e.input.GetMsg(ctx, a.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // settled or dead-lettered meanwhile
	}
	if err != nil {
		return fmt.Errorf("get %s seq %d: %w", a.Stream, a.StreamSeq, err)
	}
	cause := fmt.Errorf("delivered %d times (max_deliver) without an ack or nak: the nodes that took it crashed or stalled past ack_wait", a.Deliveries)
	dlq := natsjs.DeadLetterStored(msg, a.Stream, a.Deliveries, e.pipeline, e.node, natsjs.ReasonMaxDeliver, cause)
	if _, err := e.js.PublishMsg(ctx, dlq); err != nil {
		return fmt.Errorf("dead-letter seq %d: %w", a.StreamSeq, err)
	}
	id := dlq.Header.Get(natsjs.HeaderMsgID)
	id = id[len(e.pipeline)+1 : len(id)-len("/dlq")]
	if e.rec.cat != nil {
		rec := catalog.PartitionRecord{Pipeline: e.pipeline, ID: id, Status: catalog.StatusDeadLettered, Subject: msg.Subject,
			StreamSeq: msg.Sequence, Bytes: int64(len(msg.Data)), Attempts: int(a.Deliveries), Node: e.node, Time: time.Now(), Error: cause.Error()}
		if err := e.rec.record(ctx, rec); err != nil {
			e.log.Warn("catalog record failed", "partition", id, "status", rec.Status, "err", err)
		}
	}
	if err := e.input.DeleteMsg(ctx, a.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("delete seq %d from %s: %w", a.StreamSeq, a.Stream, err)
	}
	e.m.deadLettered.WithLabelValues(e.pipeline, natsjs.ReasonMaxDeliver).Inc()
	e.log.Error("partition dead-lettered", "partition", id, "reason", natsjs.ReasonMaxDeliver, "subject", dlq.Subject, "err", cause)
	return nil
}
