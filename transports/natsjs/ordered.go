package natsjs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// orderedDeleteWait bounds the deletion of an Ordered reader's
// server-side consumer in Close.
const orderedDeleteWait = 2 * time.Second

// Ordered reads the messages of one subject of a stream in stream order,
// from a start sequence on, without acknowledgements: the reader of a
// fleet window's shard owner, which replays its shard's partials from
// the sequence after its last checkpoint. It is a jetstream ordered
// consumer (the server-side consumer is recreated from the last
// sequence seen if messages are missed or the server restarts) read
// with jetstream's Messages iterator, pulling at most DefaultFetchBytes
// ahead.
//
// Next returns the next partition, or ctx's error when ctx ends first,
// so a caller that checkpoints between messages bounds each call by its
// next checkpoint time:
//
//	next := time.Now().Add(every)
//	for {
//		nctx, cancel := context.WithDeadline(ctx, next)
//		p, err := r.Next(nctx)
//		cancel()
//		if time.Now().After(next) {
//			checkpoint(seq) // the sequence of the last partition merged
//			next = time.Now().Add(every)
//		}
//		switch {
//		case ctx.Err() != nil:
//			return nil // stopped
//		case errors.Is(err, context.DeadlineExceeded):
//			continue // nothing arrived before the checkpoint time
//		case err != nil:
//			return err
//		}
//		seq = p.StreamSeq()
//		merge(p)
//	}
//
// Partitions from Next carry their stream sequence (StreamSeq) and decode
// claim checks through the JetStream context given to OpenOrdered
// (Decode with nil object stores); they need no settling. An Ordered is
// used from one goroutine at a time; Close may be called from any.
type Ordered struct {
	js     jetstream.JetStream
	stream string
	cons   jetstream.Consumer
	it     jetstream.MessagesContext
	c      *Consumer // resolves claim checks of the partitions
	closed atomic.Bool
}

// OpenOrdered starts reading subject (wildcards allowed) of stream from
// stream sequence startSeq on (0 or 1: from the start). js resolves
// claim checks. ctx bounds the creation of the consumer only; Next
// takes its own.
func OpenOrdered(ctx context.Context, js jetstream.JetStream, stream, subject string, startSeq uint64) (*Ordered, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if startSeq > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, startSeq
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("natsjs: ordered consumer on %s (%s from seq %d): %w", stream, subject, startSeq, err)
	}
	it, err := cons.Messages(jetstream.PullMaxBytes(DefaultFetchBytes))
	if err != nil {
		return nil, fmt.Errorf("natsjs: ordered consumer on %s (%s from seq %d): %w", stream, subject, startSeq, err)
	}
	return &Ordered{js: js, stream: stream, cons: cons, it: it, c: newConsumer(cons, js)}, nil
}

// Next returns the next message of the subject as a Partition, waiting
// until one arrives or ctx ends (then it returns ctx's error, unwrapped,
// and nothing is lost: the message is returned by the next call). After
// Close it returns ErrClosed.
func (o *Ordered) Next(ctx context.Context) (*Partition, error) {
	if o.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msg, err := o.it.Next(jetstream.NextContext(ctx))
	switch {
	case err == nil:
		return newPartition(msg, o.c), nil
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return nil, ctx.Err()
	case errors.Is(err, jetstream.ErrMsgIteratorClosed) && o.closed.Load():
		return nil, ErrClosed
	}
	return nil, fmt.Errorf("natsjs: ordered read of %s: %w", o.stream, err)
}

// Close stops reading and deletes the server-side consumer (best
// effort, for at most 2 s; the server drops it by itself after 5 idle
// minutes otherwise). Close is idempotent.
func (o *Ordered) Close() error {
	if !o.closed.CompareAndSwap(false, true) {
		return nil
	}
	o.it.Stop()
	if info := o.cons.CachedInfo(); info != nil {
		ctx, cancel := context.WithTimeout(context.Background(), orderedDeleteWait)
		_ = o.js.DeleteConsumer(ctx, o.stream, info.Name)
		cancel()
	}
	return nil
}
