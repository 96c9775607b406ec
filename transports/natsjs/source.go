package natsjs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/pcs-dev/pcs/transports"
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
// (default DefaultFetchBytes) one pull takes; see Fetch.
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

// Source reads the partitions of a JetStream pull consumer (durable or
// ephemeral, created by the caller) as record batches, for pcs consume.
// It implements transports.Source and transports.Acker.
//
// Read returns the batches of each partition in order, partition after
// partition as the consumer delivers them (batches are not
// concatenated; their schemas may differ between partitions). Without
// WithFollow, Read returns io.EOF once the consumer's NumPending (from
// consumer info, asked whenever Read needs more data) is zero; messages
// delivered earlier and awaiting redelivery after their ack wait are not
// waited for. With WithFollow, Read blocks until data arrives or ctx
// ends.
//
// Delivery: Ack double-acks every partition whose batches Read has all
// returned. Partitions not acked are redelivered after the consumer's
// ack wait (at-least-once); keep the time between Acks below it, and the
// number of partitions read between Acks below the consumer's
// MaxAckPending (Read fails with ErrAckPending there, since the server
// would deliver nothing more).
// A partition that fails to decode is returned by Read as a
// *PartitionError and left unacked (errors.Is(err, ErrCorrupt) tells it
// is permanent; the caller may Term it); the next Read goes on with the
// next partition.
//
// A Source is used from one goroutine at a time.
type Source struct {
	cons jetstream.Consumer
	objs ObjectStores
	cfg  srcConfig

	pending []*Partition        // fetched, not decoded
	cur     *Partition          // partition of batches
	batches []arrow.RecordBatch // decoded, not yet returned
	done    []*Partition        // fully returned, not acked
}

var (
	_ transports.Source = (*Source)(nil)
	_ transports.Acker  = (*Source)(nil)
)

// NewSource returns a Source over cons. objs resolves claim checks (a
// jetstream.JetStream will do); nil makes claim-check partitions fail
// with ErrNoObjectStore.
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
	return &Source{cons: cons, objs: objs, cfg: cfg}, nil
}

// Schema returns nil: every partition carries its own schema.
func (s *Source) Schema() *arrow.Schema { return nil }

// Read returns the next batch, owned by the caller, or io.EOF (see
// Source). ctx bounds this call.
func (s *Source) Read(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		if len(s.batches) > 0 {
			rec := s.batches[0]
			s.batches[0] = nil
			s.batches = s.batches[1:]
			if len(s.batches) == 0 {
				s.done = append(s.done, s.cur)
				s.cur, s.batches = nil, nil
			}
			return rec, nil
		}
		if len(s.pending) > 0 {
			p := s.pending[0]
			s.pending = s.pending[1:]
			recs, err := p.Decode(ctx, s.objs, s.cfg.mem)
			if err != nil {
				return nil, &PartitionError{Partition: p, Err: err}
			}
			if len(recs) == 0 {
				s.done = append(s.done, p)
				continue
			}
			s.cur, s.batches = p, recs
			continue
		}
		if err := s.refill(ctx); err != nil {
			return nil, err
		}
	}
}

func (s *Source) refill(ctx context.Context) error {
	// The server delivers nothing more once MaxAckPending partitions are
	// unacked: fail instead of waiting for redeliveries.
	if info := s.cons.CachedInfo(); info != nil && info.Config.MaxAckPending > 0 && len(s.done) >= info.Config.MaxAckPending {
		return fmt.Errorf("%w: %d partitions read and not acked, the consumer's MaxAckPending", ErrAckPending, len(s.done))
	}
	if s.cfg.follow {
		ps, err := Fetch(ctx, s.cons, s.cfg.maxMsgs, s.cfg.maxBytes)
		if err != nil {
			return fmt.Errorf("natsjs: source: %w", err)
		}
		s.pending = ps
		return nil
	}
	for {
		info, err := s.cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("natsjs: source: consumer info: %w", err)
		}
		if info.NumPending == 0 {
			return io.EOF
		}
		ps, err := fetch(ctx, s.cons, s.cfg.maxMsgs, s.cfg.maxBytes, time.Second, true)
		if err != nil {
			return fmt.Errorf("natsjs: source: %w", err)
		}
		if len(ps) > 0 {
			s.pending = ps
			return nil
		}
	}
}

// Ack double-acks every partition whose batches have all been returned
// by Read, 16 at a time. Partitions whose ack failed stay to be acked by
// the next call; the first error is returned.
func (s *Source) Ack(ctx context.Context) error {
	var (
		mu     sync.Mutex
		failed []*Partition
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, p := range s.done {
		g.Go(func() error {
			if err := p.Ack(gctx); err != nil {
				mu.Lock()
				failed = append(failed, p)
				mu.Unlock()
				return fmt.Errorf("natsjs: ack %s (stream seq %d): %w", p.ID(), p.StreamSeq(), err)
			}
			return nil
		})
	}
	err := g.Wait()
	s.done = failed
	return err
}

// Close releases batches not yet returned and naks their partitions and
// the fetched ones not yet decoded, so they are redelivered at once.
// Partitions returned but not acked are left to their ack wait. It does
// not delete the consumer.
func (s *Source) Close() error {
	releaseAll(s.batches)
	s.batches = nil
	if s.cur != nil {
		_ = s.cur.Nak(0)
		s.cur = nil
	}
	nakAll(s.pending)
	s.pending = nil
	return nil
}
