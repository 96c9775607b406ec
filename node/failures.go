package node

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/node/catalog"
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
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

// failures handles a pipeline's failed partitions: nak for redelivery or
// dead-letter and terminate (package doc, "Failures").
type failures struct {
	pipeline, node string
	delivery       plan.DeliveryConfig
	js             jetstream.JetStream
	rec            recorder
	m              *Metrics
	log            *slog.Logger
}

// stepFailed sorts a failure of the plan's Step: input that does not fit
// goes to the DLQ (schema), a permanent error too (permanent), others are
// retried.
func (f *failures) stepFailed(p *natsjs.Partition, id string, err error) {
	switch {
	case errors.Is(err, plan.ErrSchema):
		f.deadLetter(p, id, ReasonSchema, err)
	case pcs.IsPermanent(err):
		f.deadLetter(p, id, ReasonPermanent, err)
	default:
		f.retry(p, id, err)
	}
}

// retry naks p for redelivery with a delay doubling per delivery, or
// dead-letters it on its last allowed delivery.
func (f *failures) retry(p *natsjs.Partition, id string, cause error) {
	if int(p.Delivered()) >= f.delivery.MaxDeliver {
		f.deadLetter(p, id, ReasonMaxDeliver, cause)
		return
	}
	delay := time.Duration(f.delivery.NakDelay) << min(p.Delivered()-1, 16)
	delay = min(delay, 30*time.Second)
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
	h.Set(HeaderNode, f.node)
	if md, err := msg.Metadata(); err == nil {
		h.Set(HeaderSourceStream, md.Stream)
		h.Set(HeaderSourceSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	}
	h.Set(natsjs.HeaderMsgID, f.pipeline+"/"+id+"/dlq")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.js.PublishMsg(ctx, &nats.Msg{Subject: f.pipeline + ".dlq", Header: h, Data: msg.Data()}); err != nil {
		f.log.Error("dead-letter publish failed; nak instead", "partition", id, "err", err)
		_ = p.Nak(time.Duration(f.delivery.NakDelay))
		return
	}
	f.rec.bestEffort(p, id, catalog.StatusDeadLettered, cause, f.log)
	if err := p.Term(reason); err != nil {
		f.log.Warn("term failed", "partition", id, "err", err)
	}
	f.m.deadLettered.WithLabelValues(f.pipeline, reason).Inc()
	f.log.Error("partition dead-lettered", "partition", id, "reason", reason, "subject", f.pipeline+".dlq", "err", cause)
}
