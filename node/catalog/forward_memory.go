package catalog

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
)

// MemoryNetwork carries forwarded requests between the Catalogs of one
// process, without NATS: each node's Forwarder (from Forwarder) calls the
// addressed node's Handler directly, on a goroutine of its own. It follows
// NATSForwarder's semantics: a request to a node that does not listen fails
// with ErrNotDelivered (NATS "no responders"); AnyMember reaches one
// listening node picked at random, possibly the sender itself (a NATS queue
// group); the Handler's ctx ends when the request's deadline passes or the
// listener stops; request and reply bytes are copied.
//
// Isolate cuts a node off, like a network partition of its NATS link (see
// raft.InmemTransport's Disconnect for the Raft side). Heal undoes it.
//
// It is for tests and single-process tools (the Raft log is as real as
// ever); a fleet uses NewNATSForwarder. Safe for concurrent use; the zero
// value is not usable: call NewMemoryNetwork.
type MemoryNetwork struct {
	mu        sync.Mutex
	listeners map[string]*memListener
	isolated  map[string]bool
}

// NewMemoryNetwork returns an empty network.
func NewMemoryNetwork() *MemoryNetwork {
	return &MemoryNetwork{listeners: map[string]*memListener{}, isolated: map[string]bool{}}
}

// Forwarder returns the Forwarder of node nodeID on the network, for
// Open(ctx, cfg, net.Forwarder(cfg.NodeID)). Its requests come from
// nodeID (which matters to Isolate), and it listens for nodeID only: Listen
// with another id fails, as does a second Listen for nodeID before the
// first one's stop. A node restarted with the same id may take a new
// Forwarder or reuse the old one.
func (n *MemoryNetwork) Forwarder(nodeID string) Forwarder {
	return &memForwarder{net: n, from: nodeID}
}

// Isolate cuts node nodeID off: until Heal, every request from it or to it
// (directly or as AnyMember) fails with ErrNotDelivered, and the reply of a
// request in flight that crosses the cut is lost (the sender waits for its
// ctx, as over NATS: an unknown outcome). Isolating a node that has not
// joined the network yet is allowed and lasts across its restarts.
func (n *MemoryNetwork) Isolate(nodeID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[nodeID] = true
}

// Heal reconnects a node cut off by Isolate.
func (n *MemoryNetwork) Heal(nodeID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.isolated, nodeID)
}

// linked reports whether a reply from node `to` reaches node from now.
func (n *MemoryNetwork) linked(from, to string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.isolated[from] && !n.isolated[to]
}

// pick chooses the listener a request from `from` to `to` goes to, or
// returns an error wrapping ErrNotDelivered.
func (n *MemoryNetwork) pick(from, to string) (*memListener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.isolated[from] {
		return nil, fmt.Errorf("%w: %s is isolated", ErrNotDelivered, from)
	}
	if to != AnyMember {
		l := n.listeners[to]
		if l == nil || n.isolated[to] {
			return nil, fmt.Errorf("%w: no listener for %s", ErrNotDelivered, to)
		}
		return l, nil
	}
	var reachable []*memListener
	for id, l := range n.listeners {
		if !n.isolated[id] {
			reachable = append(reachable, l)
		}
	}
	if len(reachable) == 0 {
		return nil, fmt.Errorf("%w: no member listening", ErrNotDelivered)
	}
	return reachable[rand.IntN(len(reachable))], nil
}

// memForwarder is one node's Forwarder on a MemoryNetwork.
type memForwarder struct {
	net  *MemoryNetwork
	from string
}

// memListener is one node's Handler on a MemoryNetwork.
type memListener struct {
	id      string
	h       Handler
	ctx     context.Context // ends at stop
	cancel  context.CancelFunc
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// Listen registers h for the forwarder's node. stop unregisters it, ends
// the ctx of running handlers and waits for them.
func (f *memForwarder) Listen(nodeID string, h Handler) (func() error, error) {
	if nodeID != f.from {
		return nil, fmt.Errorf("catalog: memory forwarder of %s cannot listen for %s", f.from, nodeID)
	}
	n := f.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listeners[nodeID] != nil {
		return nil, fmt.Errorf("catalog: %s already listens on the memory network", nodeID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &memListener{id: nodeID, h: h, ctx: ctx, cancel: cancel}
	n.listeners[nodeID] = l
	return func() error {
		n.mu.Lock()
		if n.listeners[nodeID] == l {
			delete(n.listeners, nodeID)
		}
		n.mu.Unlock()
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		cancel()
		l.wg.Wait()
		return nil
	}, nil
}

// Request runs the target's handler on a new goroutine and waits for its
// reply or ctx.
func (f *memForwarder) Request(ctx context.Context, to string, req []byte) ([]byte, error) {
	l, err := f.net.pick(f.from, to)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: %s stopped listening", ErrNotDelivered, l.id)
	}
	l.wg.Add(1)
	l.mu.Unlock()
	hctx, cancel := l.ctx, context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		hctx, cancel = context.WithDeadline(l.ctx, dl)
	}
	done := make(chan []byte, 1)
	data := bytes.Clone(req)
	go func() {
		defer l.wg.Done()
		defer cancel()
		done <- bytes.Clone(l.h(hctx, data))
	}()
	select {
	case rep := <-done:
		if f.net.linked(f.from, l.id) {
			return rep, nil
		}
		// The reply crossed a cut made meanwhile: it is lost.
		<-ctx.Done()
		return nil, ctx.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
