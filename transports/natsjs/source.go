package natsjs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports"
)

// Source tuning.
const (
	// sourcePollWait bounds one wait for partitions when not following,
	// after which the consumer's pending count is asked again.
	sourcePollWait = time.Second
	// sourceDrainWait bounds the pull for partitions due for redelivery
	// once nothing new is pending.
	sourceDrainWait = 500 * time.Millisecond
	// sourceConfirmWait bounds the pull that confirms the end when the
	// consumer reports nothing pending.
	sourceConfirmWait = 100 * time.Millisecond
	// defaultAckWait is JetStream's ack wait when the consumer's config
	// leaves it 0.
	defaultAckWait = 30 * time.Second
)

// SourceOption configures a Source.
type SourceOption func(*srcConfig) error

type srcConfig struct {
	follow   bool
	maxMsgs  int
	maxBytes int
	mem      memory.Allocator
}

// WithFollow makes Read wait for new partitions instead of returning
// io.EOF when the consumer has nothing pending (pcs consume --follow).
func WithFollow(follow bool) SourceOption {
	return func(c *srcConfig) error { c.follow = follow; return nil }
}

// WithFetchLimits sets how many partitions (default 16) and bytes
// (default DefaultFetchBytes) one pull takes; see Consumer.Fetch.
func WithFetchLimits(maxMsgs, maxBytes int) SourceOption {
	return func(c *srcConfig) error {
		if maxMsgs < 1 || maxBytes < 1 {
			return fmt.Errorf("natsjs: bad fetch limits %d, %d", maxMsgs, maxBytes)
		}
		c.maxMsgs, c.maxBytes = maxMsgs, maxBytes
		return nil
	}
}

// WithAllocator sets the allocator of decoded batches (default
// memory.DefaultAllocator).
func WithAllocator(mem memory.Allocator) SourceOption {
	return func(c *srcConfig) error { c.mem = mem; return nil }
}

// Source reads the partitions of a JetStream pull consumer (durable,
// ephemeral or ordered, created by the caller) through a Consumer, as
// record batches (Read: transports.Source) or partition by partition
// (Next: pcs consume), and acknowledges what was read (Ack:
// transports.Acker). Output fences (HeaderFence; a consumer whose filter
// matches pcs.fence.> sees them) are skipped, and acknowledged with the
// partitions read.
//
// Read returns the batches of each partition in order, partition after
// partition as the consumer delivers them (batches are not
// concatenated; their schemas may differ between partitions). Next
// returns a whole partition with its batches instead. Without
// WithFollow, Read and Next return io.EOF once nothing is left: the
// consumer's NumPending (from consumer info, asked whenever more data
// is needed) is zero and a short pull (100 ms, or 500 ms when the
// consumer has more unacknowledged partitions than this Source holds)
// brings nothing: it takes what the server had not counted yet and the
// partitions due for redelivery, such as those nak'ed earlier. Partitions delivered to another reader and not yet past their
// ack wait are not waited for. With WithFollow, Read and Next block
// until data arrives or ctx ends.
//
// Delivery, for a consumer with acks (AckPolicy explicit or all): a
// partition whose batches have all been returned by Read, or that Next
// returned, is held: only its AckHandle is kept (not its body), and
// InProgress is sent for every held partition every third of the
// consumer's AckWait until Ack, Nak or Close, so that a slow reader does
// not see them redelivered. Ack double-acks the held partitions, Nak
// gives them back for redelivery at once, and Redeliver gives back one.
// The number held between Acks must stay below the consumer's
// MaxAckPending: Read and Next fail with ErrAckPending there, since the
// server would deliver nothing more. A consumer without acks (an
// ordered consumer) holds nothing, and Ack and Nak do nothing.
//
// A partition that fails to decode is returned by Read or Next as a
// *PartitionError and is neither held nor settled (errors.Is(err,
// ErrCorrupt) tells it is permanent; the caller may Term it, after
// dead-lettering it); the next call goes on with the next partition.
//
// A Source is used from one goroutine at a time. Arrow ownership: the
// batches returned belong to the caller, who releases them; they stay
// valid after Close.
type Source struct {
	c             *Consumer
	cfg           srcConfig
	acks          bool
	ackWait       time.Duration
	maxAckPending int // 0: unbounded

	pending  []*Partition        // fetched, not decoded
	cur      *Partition          // partition of batches
	batches  []arrow.RecordBatch // decoded, not yet returned
	held     AckSet              // returned, not acked
	stopBeat func()              // KeepAlive of held, once started
	closed   bool
}

var (
	_ transports.Source = (*Source)(nil)
	_ transports.Acker  = (*Source)(nil)
)

// NewSource returns a Source over cons. objs resolves claim checks; a
// jetstream.JetStream also carries the acks of held partitions without
// keeping their bodies (see AckHandle). nil makes claim-check partitions
// fail with ErrNoObjectStore.
func NewSource(cons jetstream.Consumer, objs ObjectStores, opts ...SourceOption) (*Source, error) {
	if cons == nil {
		return nil, errors.New("natsjs: NewSource needs a consumer")
	}
	cfg := srcConfig{maxMsgs: 16, maxBytes: DefaultFetchBytes, mem: memory.DefaultAllocator}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Source{c: newConsumer(cons, objs), cfg: cfg, acks: true, ackWait: defaultAckWait}
	if info := cons.CachedInfo(); info != nil {
		s.acks = info.Config.AckPolicy != jetstream.AckNonePolicy
		if info.Config.AckWait > 0 {
			s.ackWait = info.Config.AckWait
		}
		s.maxAckPending = max(info.Config.MaxAckPending, 0)
	}
	return s, nil
}

// Consumer returns the Consumer the Source reads through.
func (s *Source) Consumer() *Consumer { return s.c }

// Schema returns nil: every partition carries its own schema.
func (s *Source) Schema() *arrow.Schema { return nil }

// Read returns the next batch, owned by the caller, or io.EOF (see
// Source). ctx bounds this call; with ctx done, Read returns its error
// and consumes nothing.
func (s *Source) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		if len(s.batches) > 0 {
			rec := s.batches[0]
			s.batches[0] = nil
			s.batches = s.batches[1:]
			if len(s.batches) == 0 {
				s.hold(s.cur)
				s.cur, s.batches = nil, nil
			}
			return rec, nil
		}
		p, recs, err := s.next(ctx)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			s.hold(p)
			continue
		}
		s.cur, s.batches = p, recs
	}
}

// Next returns the next partition and its batches (owned by the
// caller, possibly none), or io.EOF (see Source). The partition is held
// from then on: the next Ack acknowledges it, unless it is given back
// with Redeliver. If Read had returned some of a partition's batches,
// Next returns that partition with the batches not yet returned. ctx
// bounds this call; with ctx done, Next returns its error and consumes
// nothing.
func (s *Source) Next(ctx context.Context) (*Partition, []arrow.RecordBatch, error) {
	if s.closed {
		return nil, nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if s.cur != nil {
		p, recs := s.cur, s.batches
		s.cur, s.batches = nil, nil
		s.hold(p)
		return p, recs, nil
	}
	p, recs, err := s.next(ctx)
	if err != nil {
		return nil, nil, err
	}
	s.hold(p)
	return p, recs, nil
}

// next decodes the next partition, fetching as needed.
func (s *Source) next(ctx context.Context) (*Partition, []arrow.RecordBatch, error) {
	for {
		if len(s.pending) > 0 {
			p := s.pending[0]
			if p.msg.Headers().Get(HeaderFence) != "" { // an output's fence (a subject like ">" matches them): no rows
				s.pending[0] = nil
				s.pending = s.pending[1:]
				s.hold(p) // acknowledged with the partitions around it
				continue
			}
			recs, err := p.Decode(ctx, nil, s.cfg.mem)
			if err != nil && ctx.Err() != nil {
				return nil, nil, ctx.Err() // p stays first
			}
			s.pending[0] = nil
			s.pending = s.pending[1:]
			if err != nil {
				return nil, nil, &PartitionError{Partition: p, Err: err}
			}
			return p, recs, nil
		}
		if err := s.refill(ctx); err != nil {
			return nil, nil, err
		}
	}
}

// hold keeps p's ack handle for the next Ack (consumers with acks).
func (s *Source) hold(p *Partition) {
	if !s.acks {
		return
	}
	s.held.Add(p.Handle())
	if s.stopBeat == nil {
		s.stopBeat = s.held.KeepAlive(s.ackWait / 3)
	}
}

func (s *Source) refill(ctx context.Context) error {
	want := s.cfg.maxMsgs
	if s.acks && s.maxAckPending > 0 {
		// The server delivers nothing more once MaxAckPending partitions
		// are unacked: fail instead of waiting for redeliveries.
		held := s.held.Len()
		if held >= s.maxAckPending {
			return fmt.Errorf("%w: %d partitions read and not acked, the consumer's MaxAckPending", ErrAckPending, held)
		}
		want = min(want, s.maxAckPending-held)
	}
	if s.cfg.follow {
		ps, err := s.c.Fetch(ctx, want, s.cfg.maxBytes)
		if err != nil {
			return fmt.Errorf("natsjs: source: %w", err)
		}
		s.pending = ps
		return nil
	}
	for {
		info, err := s.c.Info(ctx)
		if err != nil {
			return fmt.Errorf("natsjs: source: %w", err)
		}
		wait := sourcePollWait
		if info.NumPending == 0 {
			// The server counts pending messages behind their storing:
			// one short pull confirms that nothing is left.
			wait = sourceConfirmWait
			if s.acks && info.NumAckPending > s.held.Len() {
				// Unacknowledged partitions this Source does not hold:
				// some may be due for redelivery (nak'ed, or past their
				// ack wait).
				wait = sourceDrainWait
			}
		}
		ps, err := s.c.fetch(ctx, want, s.cfg.maxBytes, wait, true)
		if err != nil {
			return fmt.Errorf("natsjs: source: %w", err)
		}
		if len(ps) > 0 {
			s.pending = ps
			return nil
		}
		if info.NumPending == 0 {
			return io.EOF // nothing left, nothing due
		}
	}
}

// Buffered returns the number of partitions fetched and not yet
// returned whole by Read or Next: 0 means the next call pulls from the
// server (pcs consume acks its preview's partitions then).
func (s *Source) Buffered() int {
	n := len(s.pending)
	if s.cur != nil {
		n++
	}
	return n
}

// Unacked returns the number of partitions held for the next Ack.
func (s *Source) Unacked() int { return s.held.Len() }

// Ack double-acks every held partition (see Source), 32 at a time.
// Partitions whose ack failed stay held for the next call; the first
// error is returned. ctx bounds the call.
func (s *Source) Ack(ctx context.Context) error { return s.held.Ack(ctx) }

// Nak gives every held partition back for redelivery at once (for an
// output that was abandoned) and waits until the naks are written to
// the server or ctx ends. The first error is returned.
func (s *Source) Nak(ctx context.Context) error {
	err := s.held.Nak(0)
	if s.c.nc != nil {
		if ferr := s.c.nc.FlushWithContext(ctx); ferr != nil && err == nil {
			err = fmt.Errorf("natsjs: nak: %w", ferr)
		}
	}
	return err
}

// Redeliver gives p, which Read or Next returned, back for redelivery
// at once: it naks it and takes it out of the held partitions (for a
// partition that was not processed whole, such as one cut short by a
// row limit). It does nothing on a consumer without acks.
func (s *Source) Redeliver(p *Partition) error {
	if !s.acks {
		return nil
	}
	s.held.Remove(p.Handle())
	return p.Handle().Nak(0)
}

// Close releases batches not yet returned and naks their partitions and
// the fetched ones not yet decoded, so they are redelivered at once, and
// stops the heartbeats of held partitions: partitions returned but not
// acked are left to their ack wait. It does not delete the consumer.
// Close is idempotent; Read, Next and Fetch afterwards return ErrClosed.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	releaseAll(s.batches)
	s.batches = nil
	if s.acks {
		naked := len(s.pending) > 0 || s.cur != nil
		if s.cur != nil {
			_ = s.cur.Nak(0)
		}
		nakAll(s.pending)
		if naked && s.c.nc != nil {
			_ = s.c.nc.FlushTimeout(time.Second)
		}
	}
	s.cur, s.pending = nil, nil
	if s.stopBeat != nil {
		s.stopBeat()
	}
	return s.c.Close()
}
