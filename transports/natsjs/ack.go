package natsjs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// ackTimeout bounds a double ack whose ctx has no deadline (the
// jetstream package's default request timeout).
const ackTimeout = 5 * time.Second

// ackParallel is how many double acks AckSet.Ack has in flight.
const ackParallel = 32

// AckHandle settles a partition after its message was let go: it holds
// what acknowledging takes (the reply subject and the connection) plus
// the partition's key, stream sequence and delivery count, but not the
// message body. Take it with Partition.Handle once the partition is
// decoded, drop the Partition, and keep the handle until the outcome is
// durable (pcs consume keeps them until its output file is complete, a
// node until a checkpoint covers the partition).
//
// Acknowledgements go through nats.go's JetStream message API: a
// partition read through a Consumer or Source made with a connection (a
// jetstream.JetStream) gets a handle that is a nats.Msg reduced to its
// reply subject and bound to the consumer's connection, settled with
// nats.Msg.AckSync, Nak, NakWithDelay and InProgress; any other handle
// keeps the jetstream.Msg (and so the body) and settles through it.
//
// Settle a partition through its handle or through the Partition, not
// both. An AckHandle is safe for concurrent use.
type AckHandle struct {
	key   string
	seq   uint64
	deliv uint64
	msg   jetstream.Msg // when bound is nil
	bound *nats.Msg     // Reply and Sub only
}

// Handle returns p's AckHandle (the same one on every call). See
// AckHandle for what it keeps.
func (p *Partition) Handle() *AckHandle {
	if p.handle != nil {
		return p.handle
	}
	h := &AckHandle{key: p.Key(), seq: p.seq, deliv: p.deliv}
	if sub := p.c.ackSub(); sub != nil && p.msg.Reply() != "" {
		h.bound = &nats.Msg{Subject: p.msg.Subject(), Reply: p.msg.Reply(), Sub: sub}
	} else {
		h.msg = p.msg
	}
	p.handle = h
	return h
}

// Key returns the partition's Key.
func (h *AckHandle) Key() string { return h.key }

// StreamSeq returns the partition's stream sequence.
func (h *AckHandle) StreamSeq() uint64 { return h.seq }

// Delivered returns the partition's delivery count (1 the first time).
func (h *AckHandle) Delivered() uint64 { return h.deliv }

// Ack acknowledges the partition and waits for the server to confirm it
// (double ack), so that it is not delivered again. ctx bounds the wait
// (5 s when it has no deadline).
func (h *AckHandle) Ack(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ackTimeout)
		defer cancel()
	}
	var err error
	if h.bound != nil {
		err = h.bound.AckSync(nats.Context(ctx))
	} else {
		err = h.msg.DoubleAck(ctx)
	}
	if err != nil {
		return fmt.Errorf("natsjs: ack %s (stream seq %d): %w", h.key, h.seq, err)
	}
	return nil
}

// Nak asks for redelivery after delay (0: at once). The consumer's
// BackOff applies to ack timeouts, not to naks.
func (h *AckHandle) Nak(delay time.Duration) error {
	var err error
	switch {
	case h.bound != nil && delay > 0:
		err = h.bound.NakWithDelay(delay)
	case h.bound != nil:
		err = h.bound.Nak()
	case delay > 0:
		err = h.msg.NakWithDelay(delay)
	default:
		err = h.msg.Nak()
	}
	if err != nil {
		return fmt.Errorf("natsjs: nak %s (stream seq %d): %w", h.key, h.seq, err)
	}
	return nil
}

// InProgress resets the partition's ack wait timer.
func (h *AckHandle) InProgress() error {
	var err error
	if h.bound != nil {
		err = h.bound.InProgress()
	} else {
		err = h.msg.InProgress()
	}
	if err != nil {
		return fmt.Errorf("natsjs: in progress %s (stream seq %d): %w", h.key, h.seq, err)
	}
	return nil
}

// KeepAlive sends InProgress for p every interval (> 0; a third of the
// consumer's AckWait is a good choice) from a goroutine of its own, until
// stop is called, so that the server does not redeliver p while it is
// being worked on. stop ends the goroutine before it returns; calling it
// again does nothing. Failed heartbeats are not reported: the partition
// is then redelivered after its ack wait, which the delivery protocol
// tolerates.
//
// To keep many partitions alive from one goroutine (held until a file is
// complete or a checkpoint), put their handles in an AckSet and use
// AckSet.KeepAlive.
func (p *Partition) KeepAlive(every time.Duration) (stop func()) {
	return heartbeat(every, func() { _ = p.msg.InProgress() })
}

// heartbeat calls beat every interval until stop.
func heartbeat(every time.Duration, beat func()) (stop func()) {
	if every <= 0 {
		panic(fmt.Sprintf("natsjs: heartbeat interval %v", every))
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				beat()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}

// AckSet holds the AckHandles of partitions that were processed but are
// not to be acknowledged yet, and settles them together: Ack when their
// outcome is durable, Nak when it was abandoned. KeepAlive keeps them
// from being redelivered meanwhile. The zero value is an empty set; it
// is safe for concurrent use.
type AckSet struct {
	mu sync.Mutex
	hs []*AckHandle
}

// Add puts h in the set (a handle should be added once).
func (s *AckSet) Add(h *AckHandle) {
	s.mu.Lock()
	s.hs = append(s.hs, h)
	s.mu.Unlock()
}

// Remove takes h out of the set, reporting whether it was in it. The
// caller then settles h itself.
func (s *AckSet) Remove(h *AckHandle) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.hs {
		if x == h {
			s.hs = append(s.hs[:i], s.hs[i+1:]...)
			return true
		}
	}
	return false
}

// Len returns the number of handles in the set.
func (s *AckSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hs)
}

// take empties the set and returns what it held.
func (s *AckSet) take() []*AckHandle {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.hs
	s.hs = nil
	return hs
}

// Ack double-acks every handle in the set, 32 at a time, and empties
// the set of those acknowledged; handles whose ack failed stay in it for
// the next call. It returns the first failure, saying how many failed.
// ctx bounds the whole call (5 s per ack when it has no deadline).
func (s *AckSet) Ack(ctx context.Context) error {
	hs := s.take()
	if len(hs) == 0 {
		return nil
	}
	var (
		mu     sync.Mutex
		failed []*AckHandle
		first  error
	)
	var g errgroup.Group
	g.SetLimit(ackParallel)
	for _, h := range hs {
		g.Go(func() error {
			if err := h.Ack(ctx); err != nil {
				mu.Lock()
				failed = append(failed, h)
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(failed) == 0 {
		return nil
	}
	s.mu.Lock()
	s.hs = append(failed, s.hs...)
	s.mu.Unlock()
	return fmt.Errorf("natsjs: %d of %d acks failed (they stay in the set): %w", len(failed), len(hs), first)
}

// Nak naks every handle in the set for redelivery after delay (0: at
// once) and empties the set. It returns the first failure; the server
// redelivers a partition whose nak was lost after its ack wait.
func (s *AckSet) Nak(delay time.Duration) error {
	var first error
	for _, h := range s.take() {
		if err := h.Nak(delay); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// KeepAlive sends InProgress for every handle in the set every interval
// (> 0; a third of the consumer's AckWait is a good choice) from one
// goroutine, until stop is called; handles added later are covered from
// the next beat. stop ends the goroutine before it returns; calling it
// again does nothing.
func (s *AckSet) KeepAlive(every time.Duration) (stop func()) {
	return heartbeat(every, func() {
		s.mu.Lock()
		hs := append([]*AckHandle(nil), s.hs...)
		s.mu.Unlock()
		for _, h := range hs {
			_ = h.InProgress()
		}
	})
}
