package natsjs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Fetch defaults.
const (
	// DefaultFetchBytes is the byte bound of one Fetch when maxBytes <= 0
	// (16 MiB). Pulling large messages without a byte bound lets the
	// server push more than the client drains in time, and it then
	// disconnects the client as a slow consumer.
	DefaultFetchBytes = 16 << 20
	// fetchIdleWait is the expiry of the pull request that waits for the
	// first message when ctx has no earlier deadline; Fetch re-issues it
	// until ctx is done. The request asks for one message, so it returns
	// the moment one is available: the expiry bounds only the idle churn
	// (one request per 5 s per waiting consumer).
	fetchIdleWait = 5 * time.Second
	// fetchFillWait is the expiry of the second pull request, which asks
	// for the messages the first one reported pending. It returns at once
	// unless other consumers took them first (then after at most this).
	fetchFillWait = 100 * time.Millisecond
)

// ObjectStores resolves claim-check buckets. jetstream.JetStream
// implements it.
type ObjectStores interface {
	ObjectStore(ctx context.Context, bucket string) (jetstream.ObjectStore, error)
}

// Consumer is PCS's one way to read partitions from a JetStream pull
// consumer: the node's delivery loop, pcs consume (through Source) and
// tests read with it; fleet-window shard owners read in stream order
// with Ordered. It wraps a jetstream.Consumer, created and configured by
// the caller (durable or ephemeral, explicit acks or none, an ordered
// consumer too), and the JetStream context that resolves claim checks.
//
// Fetch pulls byte-bounded batches of partitions. Each Partition decodes
// itself (Partition.Decode with nil object stores uses the Consumer's),
// and is settled with Ack (double ack), Nak(delay), Term(reason) or kept
// alive with InProgress and KeepAlive. Partition.Handle gives an
// AckHandle that settles the partition without keeping its body, and an
// AckSet settles many together.
//
// A Consumer is safe for concurrent use; Fetch may be called from
// several goroutines (not on an ordered jetstream consumer, which allows
// one pull at a time).
type Consumer struct {
	cons jetstream.Consumer
	objs ObjectStores
	nc   *nats.Conn // nil: handles keep the message

	mu     sync.Mutex
	sub    *nats.Subscription // binds ack handles to nc; made on first use
	closed bool
}

// NewConsumer returns a Consumer reading cons. js resolves claim checks
// (its object stores) and carries the acknowledgements of AckHandles
// (its connection).
func NewConsumer(js jetstream.JetStream, cons jetstream.Consumer) (*Consumer, error) {
	if js == nil || cons == nil {
		return nil, errors.New("natsjs: NewConsumer needs a JetStream context and a consumer")
	}
	return newConsumer(cons, js), nil
}

// newConsumer returns a Consumer over cons; objs may be nil, and gives
// the connection when it has one (a jetstream.JetStream).
func newConsumer(cons jetstream.Consumer, objs ObjectStores) *Consumer {
	c := &Consumer{cons: cons, objs: objs}
	if js, ok := objs.(interface{ Conn() *nats.Conn }); ok {
		c.nc = js.Conn()
	}
	return c
}

// JetStreamConsumer returns the wrapped jetstream.Consumer (for its
// management calls).
func (c *Consumer) JetStreamConsumer() jetstream.Consumer { return c.cons }

// Info asks the server for the consumer's state (NumPending,
// NumAckPending, Config, ...).
func (c *Consumer) Info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	info, err := c.cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsjs: consumer info: %w", err)
	}
	return info, nil
}

// CachedInfo returns the consumer's state as last received from the
// server (at creation or the last Info), without a request.
func (c *Consumer) CachedInfo() *jetstream.ConsumerInfo { return c.cons.CachedInfo() }

// Close releases what the Consumer holds on the connection (the
// subscription that binds ack handles). Settle the AckHandles taken from
// its partitions before Close. It does not delete the jetstream
// consumer; Fetch after Close returns ErrClosed. Close is idempotent.
func (c *Consumer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.sub != nil {
		err := c.sub.Unsubscribe()
		c.sub = nil
		if err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			return fmt.Errorf("natsjs: consumer close: %w", err)
		}
	}
	return nil
}

// ackSub returns the subscription that binds ack handles to the
// connection, subscribing on first use, or nil (no connection, closed,
// or the subscription failed: handles then keep the message).
//
// nats.go acknowledges a nats.Msg through the connection of the
// subscription it is bound to (Msg.Sub); nothing is ever delivered to
// this one, on a fresh inbox: it only ties the handles to nc.
func (c *Consumer) ackSub() *nats.Subscription {
	if c == nil || c.nc == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sub == nil && !c.closed {
		sub, err := c.nc.SubscribeSync(c.nc.NewInbox())
		if err != nil {
			return nil
		}
		c.sub = sub
	}
	return c.sub
}

// Fetch pulls up to maxMsgs partitions totalling at most about maxBytes
// (<= 0: DefaultFetchBytes). It blocks until at least one partition is
// available or ctx is done (then it returns ctx's error), and never
// waits to fill a short batch:
//
//  1. a pull request for one message waits for the first partition (it
//     expires after 5 s or at ctx's deadline and is re-issued);
//  2. that message's metadata tells how many more are pending; a second
//     pull for min(pending, maxMsgs-1) messages and the remaining bytes,
//     expiring after 100 ms, takes those at once.
//
// This avoids both pitfalls of a plain jetstream Fetch(n): waiting the
// whole max-wait when fewer than n are available, and FetchNoWait's lack
// of a byte bound. The first partition is pulled without a byte bound
// (it is one message), so a partition larger than maxBytes is still
// delivered.
//
// To wait at most d for data, pass a ctx with a deadline: a
// context.DeadlineExceeded error while the caller's own ctx is live
// means that nothing arrived. Partitions delivered while ctx is being
// cancelled are nak'ed.
func (c *Consumer) Fetch(ctx context.Context, maxMsgs, maxBytes int) ([]*Partition, error) {
	return c.fetch(ctx, maxMsgs, maxBytes, fetchIdleWait, false)
}

// Fetch pulls partitions from cons as Consumer.Fetch does.
//
// Prefer Consumer.Fetch (NewConsumer): its partitions resolve claim
// checks by themselves and give ack handles without the message body.
// This function stays until every caller has moved.
func Fetch(ctx context.Context, cons jetstream.Consumer, maxMsgs, maxBytes int) ([]*Partition, error) {
	return newConsumer(cons, nil).Fetch(ctx, maxMsgs, maxBytes)
}

// fetch implements Fetch; with once it issues the first pull only once
// (expiring after firstWait) and may return no partition.
// leaderlessWait bounds how long Fetch waits for a clustered consumer
// that answers no pull (its stream or consumer is electing a leader after
// a server died: "no responders" for a few seconds) before returning the
// error.
const leaderlessWait = 15 * time.Second

// retryLeaderless reports whether err is a pull no server answered and
// leaderlessWait has not passed since the first (*since); it then pauses
// 200 ms (or until ctx is done).
func retryLeaderless(ctx context.Context, err error, since *time.Time) bool {
	if !errors.Is(err, nats.ErrNoResponders) {
		return false
	}
	if since.IsZero() {
		*since = time.Now()
	}
	if time.Since(*since) > leaderlessWait {
		return false
	}
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

func (c *Consumer) fetch(ctx context.Context, maxMsgs, maxBytes int, firstWait time.Duration, once bool) ([]*Partition, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if maxMsgs < 1 {
		maxMsgs = 1
	}
	if maxBytes <= 0 {
		maxBytes = DefaultFetchBytes
	}
	var unanswered time.Time // since when pulls found no responder
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wait := firstWait
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = time.Until(dl)
			if wait < 5*time.Millisecond {
				<-ctx.Done()
				return nil, ctx.Err()
			}
		}
		// The pull expires on the server at 90% of pctx's time, before
		// pctx ends, so nothing is delivered to an abandoned request.
		pctx, cancel := context.WithTimeout(ctx, wait)
		batch, err := c.cons.Fetch(1, jetstream.FetchContext(pctx))
		if err != nil {
			cancel()
			if retryLeaderless(ctx, err, &unanswered) {
				continue
			}
			return nil, fmt.Errorf("natsjs: fetch: %w", err)
		}
		first := c.drain(batch)
		berr := batch.Error()
		cancel()
		if len(first) == 0 && berr != nil && retryLeaderless(ctx, berr, &unanswered) {
			continue
		}
		if err := ctx.Err(); err != nil {
			nakAll(first)
			return nil, err
		}
		if len(first) == 0 {
			if berr != nil && !errors.Is(berr, context.DeadlineExceeded) {
				return nil, fmt.Errorf("natsjs: fetch: %w", berr)
			}
			if once {
				return nil, nil
			}
			continue
		}
		out := first
		left := maxBytes - first[0].Size()
		if n := min(uint64(maxMsgs-1), first[0].pending); n > 0 && left > 0 {
			more, err := c.cons.Fetch(int(n), jetstream.FetchMaxBytes(left), jetstream.FetchMaxWait(fetchFillWait))
			if err == nil {
				out = append(out, c.drain(more)...)
			}
		}
		return out, nil
	}
}

func (c *Consumer) drain(b jetstream.MessageBatch) []*Partition {
	var out []*Partition
	for m := range b.Messages() {
		out = append(out, newPartition(m, c))
	}
	return out
}

func nakAll(ps []*Partition) {
	for _, p := range ps {
		_ = p.Nak(0)
	}
}
