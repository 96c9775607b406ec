package node

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// failures handles a pipeline's failed partitions: nak for redelivery or
// dead-letter and terminate (package doc, "Failures").
type failures struct {
	pipeline, node string
	delivery       plan.DeliveryConfig
	js             jetstream.JetStream
	rec            recorder
	store          *storeWatch
	m              *Metrics
	log            *slog.Logger
}

// stepFailed sorts a failure of the plan's Step: input that does not fit
// goes to the DLQ (schema), a permanent error too (permanent), others are
// retried.
func (f *failures) stepFailed(p *natsjs.Partition, id string, err error) {
	switch {
	case errors.Is(err, plan.ErrSchema):
		f.deadLetter(p, id, natsjs.ReasonSchema, err)
	case pcs.IsPermanent(err):
		f.deadLetter(p, id, natsjs.ReasonPermanent, err)
	default:
		f.retry(p, id, err)
	}
}

// retry naks p for redelivery with a delay doubling per delivery, or
// dead-letters it on its last allowed delivery.
func (f *failures) retry(p *natsjs.Partition, id string, cause error) {
	if int(p.Delivered()) >= f.delivery.MaxDeliver {
		f.deadLetter(p, id, natsjs.ReasonMaxDeliver, cause)
		return
	}
	delay := time.Duration(f.delivery.NakDelay) << min(p.Delivered()-1, 16)
	delay = min(delay, 30*time.Second)
	f.store.note(cause)
	f.m.failed.WithLabelValues(f.pipeline).Inc()
	f.log.Warn("partition failed; nak for redelivery", "partition", id, "delivery", p.Delivered(), "retry_in", delay, "err", cause)
	f.rec.bestEffort(p, id, catalog.StatusFailed, cause, f.log)
	if err := p.Nak(delay); err != nil {
		f.log.Warn("nak failed; the server redelivers after ack_wait", "partition", id, "err", err)
	}
}

// deadLetter publishes the original partition (body and headers) to
// <pipeline>.dlq with the error headers, then terminates it. If the DLQ
// publish fails the partition is nak'ed instead: nothing is dropped.
func (f *failures) deadLetter(p *natsjs.Partition, id, reason string, cause error) {
	msg := natsjs.DeadLetter(p, f.pipeline, f.node, reason, cause)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.js.PublishMsg(ctx, msg); err != nil {
		f.store.note(err)
		f.log.Error("dead-letter publish failed; nak instead", "partition", id, "err", err)
		_ = p.Nak(time.Duration(f.delivery.NakDelay))
		return
	}
	f.store.ok()
	f.rec.bestEffort(p, id, catalog.StatusDeadLettered, cause, f.log)
	if err := p.Term(reason); err != nil {
		f.log.Warn("term failed", "partition", id, "err", err)
	}
	f.m.deadLettered.WithLabelValues(f.pipeline, reason).Inc()
	f.log.Error("partition dead-lettered", "partition", id, "reason", reason, "subject", msg.Subject, "err", cause)
}
