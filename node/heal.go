package node

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pcs-dev/pcs/node/catalog"
)

// health is what the node knows about its own state beyond the pipelines:
// when it began to stop (Close bounds the catalog leave by drain_timeout
// from then), whether it is closing (connection-closed is then expected)
// and why it stopped by itself.
type health struct {
	stopAt  atomic.Int64 // Unix ns when Run's ctx ended (0: not yet)
	closing atomic.Bool
}

// watchCatalog returns ctx, also cancelled when the catalog is lost (the
// leader removed this node and its Raft shut down: catalog.Catalog.Lost),
// and a func that returns why Run stopped by itself (nil after a SIGTERM).
// The node then drains and exits with that reason, for its supervisor to
// restart it; the restart joins the catalog again. It also records when
// the stop began (stopAt).
func (n *Node) watchCatalog(ctx context.Context) (context.Context, func() error) {
	ctx, cancel := context.WithCancel(ctx)
	var lost atomic.Pointer[error]
	var lostCh <-chan struct{}
	if n.cat != nil {
		lostCh = n.cat.Lost()
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-lostCh:
			err := fmt.Errorf("node: %w", n.cat.LostErr())
			lost.Store(&err)
			n.log.Error("leaving: this node is out of the catalog and cannot rejoin without a restart", "err", err)
			cancel()
		}
		n.stopAt.CompareAndSwap(0, time.Now().UnixNano())
	}()
	return ctx, func() error {
		if p := lost.Load(); p != nil {
			return *p
		}
		return nil
	}
}

// closeCatalog leaves the catalog (Catalog.Close) within what is left of
// drain_timeout since the stop began: when every node stops at once the
// leave may find no leader, and without the bound it retried for the
// catalog's whole apply budget (30 s). A leave that does not complete is
// logged, not an error: the leader removes the node after
// dead_node_timeout, and a restart within it keeps its seat.
func (n *Node) closeCatalog(ctx context.Context) error {
	start := time.Now()
	if at := n.stopAt.Load(); at != 0 {
		start = time.Unix(0, at)
	}
	// At least a moment to leave: the drain may have used all of it.
	deadline := start.Add(time.Duration(n.cfg.Node.DrainTimeout))
	if least := time.Now().Add(500 * time.Millisecond); deadline.Before(least) {
		deadline = least
	}
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	err := n.cat.Close(lctx)
	if err == nil {
		return nil
	}
	var keep []error
	for _, e := range unjoin(err) {
		if errors.Is(e, catalog.ErrNoLeader) || errors.Is(e, catalog.ErrUnknownOutcome) || errors.Is(e, context.DeadlineExceeded) {
			n.log.Warn("catalog leave did not complete within drain_timeout; the leader removes this node after dead_node_timeout", "err", e)
			continue
		}
		keep = append(keep, e)
	}
	return errors.Join(keep...)
}

// unjoin returns the errors joined in err (err itself if it is not a join).
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
