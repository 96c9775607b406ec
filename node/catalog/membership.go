package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Join asks the cluster to add this node: the request goes to any member
// (Forwarder target AnyMember), which passes it to the leader; the leader
// adds the node as a voter while there are fewer than Config.MaxVoters
// voters, as a non-voter otherwise, and applies NodeJoined. Joining a node
// that is already a member with the same address changes nothing. Open calls
// Join for a node without Raft state; call it yourself only to re-join after
// having been removed. Retries like Apply; errors: ErrNoLeader (no member
// answered with a leader in time), ErrMembership, ErrClosed.
func (c *Catalog) Join(ctx context.Context) error {
	self := c.self()
	req, err := json.Marshal(fwdRequest{Op: opJoin, Node: &self})
	if err != nil {
		return fmt.Errorf("catalog: join: %w", err)
	}
	return c.retry(ctx, func(actx context.Context) error {
		if c.IsLeader() {
			return c.addServer(actx, self, false)
		}
		_, err := c.request(actx, AnyMember, req)
		if errors.Is(err, ErrUnknownOutcome) {
			// A join is idempotent and has no hidden effect: retrying it is
			// clean, so do not report an unknown outcome at the end.
			return fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return err
	})
}

// leave stops the heartbeats and has the leader remove this node (see
// Close).
func (c *Catalog) leave(ctx context.Context) error {
	c.leaving.Store(true)
	if c.hbCancel != nil {
		c.hbCancel()
		<-c.hbDone
	}
	cf := c.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return fmt.Errorf("catalog: leave: %w", classifyRaft(err))
	}
	others, voters := 0, 0
	for _, s := range cf.Configuration().Servers {
		if string(s.ID) != c.cfg.NodeID {
			others++
			if s.Suffrage == raft.Voter {
				voters++
			}
		}
	}
	if others == 0 {
		return nil // the only server: nobody to leave to
	}
	if c.IsLeader() && voters > 0 {
		if err := c.raft.LeadershipTransfer().Error(); err != nil {
			c.log.Warn("catalog leadership transfer failed; removing self as leader", "err", err)
		}
	}
	self := c.self()
	req, err := json.Marshal(fwdRequest{Op: opLeave, Node: &self})
	if err != nil {
		return fmt.Errorf("catalog: leave: %w", err)
	}
	return c.retry(ctx, func(actx context.Context) error {
		if c.IsLeader() {
			return c.removeServer(actx, self.ID)
		}
		_, lid := c.raft.LeaderWithID()
		if lid == "" {
			return fmt.Errorf("%w: no leader known", ErrNotLeader)
		}
		_, err := c.request(actx, string(lid), req)
		if errors.Is(err, ErrUnknownOutcome) {
			return fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return err
	})
}

// handle answers a forwarded request (Forwarder handler goroutine).
func (c *Catalog) handle(ctx context.Context, data []byte) []byte {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ForwardTimeout)
	defer cancel()
	var req fwdRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return encodeReply(fwdReply{Code: codeInvalid, Error: err.Error()})
	}
	if c.closed.Load() {
		return encodeReply(fwdReply{Code: codeRetry, Error: "node closing"})
	}
	switch req.Op {
	case opApply:
		if !c.IsLeader() {
			return encodeReply(fwdReply{Code: codeRetry, Error: "not the leader"})
		}
		for i := range req.Commands {
			if err := req.Commands[i].Validate(); err != nil {
				return encodeReply(fwdReply{Code: codeInvalid, Error: err.Error()})
			}
		}
		res, err := c.applyLocal(ctx, req.Commands)
		if err != nil {
			return encodeReply(errReply(err))
		}
		return encodeReply(fwdReply{Results: res})
	case opJoin, opLeave:
		if req.Node == nil || !validToken(req.Node.ID) {
			return encodeReply(fwdReply{Code: codeInvalid, Error: "node id required"})
		}
		if c.IsLeader() {
			var err error
			if req.Op == opJoin {
				err = c.addServer(ctx, *req.Node, req.Rejoin)
			} else {
				err = c.removeServer(ctx, req.Node.ID)
			}
			if err != nil {
				return encodeReply(errReply(err))
			}
			return encodeReply(fwdReply{})
		}
		_, lid := c.raft.LeaderWithID()
		if req.Hops > 0 || lid == "" || string(lid) == c.cfg.NodeID {
			return encodeReply(fwdReply{Code: codeRetry, Error: "no leader known"})
		}
		req.Hops++
		fwd, err := json.Marshal(req)
		if err != nil {
			return encodeReply(fwdReply{Code: codeInvalid, Error: err.Error()})
		}
		rep, err := c.request(ctx, string(lid), fwd)
		if err != nil && rep.Code == codeOK {
			return encodeReply(errReply(err))
		}
		return encodeReply(rep)
	default:
		return encodeReply(fwdReply{Code: codeInvalid, Error: fmt.Sprintf("unknown op %q", req.Op)})
	}
}

// errReply turns a local error into a reply code.
func errReply(err error) fwdReply {
	switch {
	case errors.Is(err, ErrInvalidCommand), errors.Is(err, ErrCorrupt):
		return fwdReply{Code: codeInvalid, Error: err.Error()}
	case errors.Is(err, ErrUnknownOutcome):
		return fwdReply{Code: codeUnknown, Error: err.Error()}
	case errors.Is(err, ErrMembership):
		return fwdReply{Code: codeMemberErr, Error: err.Error()}
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrNoLeader), errors.Is(err, ErrClosed):
		return fwdReply{Code: codeRetry, Error: err.Error()}
	}
	return fwdReply{Code: codeUnknown, Error: err.Error()}
}

// inConfiguration reports whether this node is in the latest Raft
// configuration it knows.
func (c *Catalog) inConfiguration() bool {
	cf := c.raft.GetConfiguration()
	if cf.Error() != nil {
		return false
	}
	for _, s := range cf.Configuration().Servers {
		if string(s.ID) == c.cfg.NodeID {
			return true
		}
	}
	return false
}

// addServer runs on the leader: it adds n as a voter (below MaxVoters,
// unless nonvoter) or non-voter, replacing an entry with the same id and
// another address, and applies NodeJoined. A node re-joining by itself
// (healLoop) comes in as a non-voter: it may trail the log by a long
// pause, and a voter that cannot vote usefully yet would count against the
// quorum; reconcile promotes it once it heartbeats.
func (c *Catalog) addServer(ctx context.Context, n NodeInfo, nonvoter bool) error {
	cf := c.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return classifyRaft(err)
	}
	voters := 0
	var existing *raft.Server
	for _, s := range cf.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if string(s.ID) == n.ID {
			existing = &s
		}
	}
	id, addr := raft.ServerID(n.ID), raft.ServerAddress(n.RaftAddr)
	timeout := c.cfg.ForwardTimeout
	if existing != nil && existing.Address != addr {
		if err := c.raft.RemoveServer(id, 0, timeout).Error(); err != nil {
			return membershipErr("remove", n.ID, err)
		}
		if existing.Suffrage == raft.Voter {
			voters--
		}
		existing = nil
	}
	if existing == nil {
		var f raft.IndexFuture
		kind := "voter"
		if voters < c.cfg.MaxVoters && !nonvoter {
			f = c.raft.AddVoter(id, addr, 0, timeout)
		} else {
			kind = "non-voter"
			f = c.raft.AddNonvoter(id, addr, 0, timeout)
		}
		if err := f.Error(); err != nil {
			return membershipErr("add "+kind, n.ID, err)
		}
		c.log.Info("catalog node joined", "id", n.ID, "raft_addr", n.RaftAddr, "as", kind)
	}
	n.Time = time.Now()
	cmd := NewNodeJoined(n)
	cmd.ID = c.nextID()
	cmd.normalize()
	_, err := c.applyLocal(ctx, []Command{cmd})
	return err
}

// removeServer runs on the leader: it applies NodeLeft for id, then removes
// it from the Raft configuration (the leader may remove itself: it steps
// down once the change commits).
func (c *Catalog) removeServer(ctx context.Context, id string) error {
	cmd := NewNodeLeft(id, time.Now())
	cmd.ID = c.nextID()
	cmd.normalize()
	if _, err := c.applyLocal(ctx, []Command{cmd}); err != nil {
		return err
	}
	if err := c.raft.RemoveServer(raft.ServerID(id), 0, c.cfg.ForwardTimeout).Error(); err != nil {
		return membershipErr("remove", id, err)
	}
	c.log.Info("catalog node removed", "id", id)
	return nil
}

// membershipErr wraps a failed configuration change; lost leadership stays
// retryable.
func membershipErr(what, id string, err error) error {
	if cerr := classifyRaft(err); errors.Is(cerr, ErrNotLeader) || errors.Is(cerr, ErrUnknownOutcome) || errors.Is(cerr, ErrClosed) {
		return cerr
	}
	return fmt.Errorf("%w: %s %s: %w", ErrMembership, what, id, err)
}

// leaderLoop runs while this node leads. Every CompactInterval it applies
// Compact(now - Retention). Every DeadNodeTimeout/4 it removes
// servers whose last heartbeat is older than DeadNodeTimeout (not before
// DeadNodeTimeout has passed since it became leader, so that every node had
// a chance to heartbeat to it), drops stale node-table entries of
// non-members, and promotes live non-voters while voters < MaxVoters.
func (c *Catalog) leaderLoop(ctx context.Context) {
	period := c.cfg.HeartbeatInterval
	if c.cfg.DeadNodeTimeout > 0 {
		period = max(c.cfg.DeadNodeTimeout/4, 20*time.Millisecond)
	}
	since := time.Now()
	missing := map[raft.ServerID]time.Time{}
	t := time.NewTicker(period)
	defer t.Stop()
	var compact <-chan time.Time
	if c.cfg.Retention > 0 {
		ct := time.NewTicker(c.cfg.CompactInterval)
		defer ct.Stop()
		compact = ct.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.reconcile(ctx, since, missing); err != nil && ctx.Err() == nil {
				c.log.Warn("catalog membership reconcile failed", "err", err)
			}
		case now := <-compact:
			cmd := NewCompact(now.Add(-c.cfg.Retention))
			cmd.ID = c.nextID()
			cmd.normalize()
			if _, err := c.applyLocal(ctx, []Command{cmd}); err != nil && ctx.Err() == nil {
				c.log.Warn("catalog compaction failed", "err", err)
			}
		}
	}
}

func (c *Catalog) reconcile(ctx context.Context, since time.Time, missing map[raft.ServerID]time.Time) error {
	if !c.IsLeader() {
		return nil
	}
	cf := c.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	servers := cf.Configuration().Servers
	nodes := map[string]NodeStatus{}
	for _, n := range c.fsm.Nodes() {
		nodes[n.ID] = n
	}
	now := time.Now()
	dead := c.cfg.DeadNodeTimeout
	fresh := func(id string) bool {
		n, ok := nodes[id]
		return ok && (dead <= 0 || now.Sub(n.LastHeartbeat) <= dead)
	}
	member := map[string]bool{}
	var errs []error
	if dead > 0 && now.Sub(since) >= dead {
		for _, s := range servers {
			id := string(s.ID)
			member[id] = true
			if id == c.cfg.NodeID {
				continue
			}
			last := nodes[id].LastHeartbeat
			if _, ok := nodes[id]; !ok {
				first, seen := missing[s.ID]
				if !seen {
					missing[s.ID] = now
					continue
				}
				last = first
			}
			if now.Sub(last) <= dead {
				continue
			}
			c.log.Warn("catalog removing dead node", "id", id, "last_heartbeat", last)
			if err := c.removeServer(ctx, id); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(missing, s.ID)
			delete(nodes, id)
		}
		for id, n := range nodes {
			if !member[id] && id != c.cfg.NodeID && now.Sub(n.LastHeartbeat) > dead {
				cmd := NewNodeLeft(id, now)
				cmd.ID = c.nextID()
				cmd.normalize()
				if _, err := c.applyLocal(ctx, []Command{cmd}); err != nil {
					errs = append(errs, err)
				}
			}
		}
		cf = c.raft.GetConfiguration()
		if err := cf.Error(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		servers = cf.Configuration().Servers
	}
	voters := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	for _, s := range servers {
		if voters >= c.cfg.MaxVoters {
			break
		}
		if s.Suffrage == raft.Nonvoter && fresh(string(s.ID)) {
			if err := c.raft.AddVoter(s.ID, s.Address, 0, c.cfg.ForwardTimeout).Error(); err != nil {
				errs = append(errs, membershipErr("promote", string(s.ID), err))
				continue
			}
			c.log.Info("catalog non-voter promoted", "id", s.ID)
			voters++
		}
	}
	return errors.Join(errs...)
}

// Lost returns a channel that is closed when this node can no longer take
// part in the catalog without a restart (LostErr says why, wrapping
// ErrRemoved): the leader removed it from the Raft configuration and its
// Raft shut down on learning it. A node removed while it could not hear
// about it (paused, cut off) does not get here: it re-joins by itself
// (healLoop). pcs-node exits with the reason, for its supervisor to
// restart it; the restart joins again. Never closed by Close or Shutdown.
func (c *Catalog) Lost() <-chan struct{} { return c.lost }

// LostErr returns why Lost was closed (nil while it is not).
func (c *Catalog) LostErr() error {
	select {
	case <-c.lost:
		return c.lostErr
	default:
		return nil
	}
}

// rejoinAfter is how long this node goes without knowing a leader before
// healLoop asks the cluster to admit it again: long enough for an election
// (a few election timeouts) and for a missed heartbeat or two.
func (c *Catalog) rejoinAfter() time.Duration {
	return max(4*c.cfg.ElectionTimeout, 2*c.cfg.HeartbeatInterval, 200*time.Millisecond)
}

// healLoop keeps this node in the cluster. A node removed from the Raft
// configuration while it could not hear about it (paused by SIGSTOP
// beyond DeadNodeTimeout, cut off from the others) wakes up as a follower
// of a configuration nobody else has: with pre-vote its elections are
// refused, it never learns a leader, and before this loop it stayed a
// Candidate until restarted. Here, when no leader has been known for
// rejoinAfter, it sends a join (marked rejoin) to any member: the leader
// adds it back as a non-voter (a no-op for a node that still is a member,
// as during a quorum loss, when no leader answers anyway), replicates the
// log to it, and reconcile promotes it to voter once it heartbeats. When
// Raft has shut down underneath (the removal reached this node:
// Config.ShutdownOnRemove) it closes Lost instead.
func (c *Catalog) healLoop(ctx context.Context) {
	t := time.NewTicker(max(c.cfg.ElectionTimeout, 50*time.Millisecond))
	defer t.Stop()
	after := c.rejoinAfter()
	known := time.Now() // when a leader was last known
	var attempts int
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.closed.Load() || c.leaving.Load() {
			return
		}
		if c.raft.State() == raft.Shutdown {
			c.setLost(fmt.Errorf("%w: the leader removed node %s (dead_node_timeout passed without a heartbeat) and its Raft shut down; restart it to join again", ErrRemoved, c.cfg.NodeID))
			return
		}
		if _, id := c.raft.LeaderWithID(); id != "" {
			if attempts > 0 {
				c.log.Info("catalog leader known again", "leader", id, "rejoin_requests", attempts)
				attempts = 0
			}
			known = time.Now()
			continue
		}
		if time.Since(known) < after {
			continue
		}
		attempts++
		if attempts == 1 {
			c.log.Warn("catalog: no leader known; asking the cluster to admit this node again (it may have been removed while paused or cut off)",
				"for", time.Since(known).Round(time.Millisecond))
		}
		if err := c.rejoin(ctx); err != nil {
			c.log.Debug("catalog rejoin request failed", "err", err)
			continue
		}
		c.log.Info("catalog rejoin accepted: added back as a non-voter (promoted once it heartbeats), or still a member")
		known = time.Now()
	}
}

// rejoin sends one join, marked rejoin, to any member (not retried: the
// caller's loop retries).
func (c *Catalog) rejoin(ctx context.Context) error {
	self := c.self()
	req, err := json.Marshal(fwdRequest{Op: opJoin, Node: &self, Rejoin: true})
	if err != nil {
		return fmt.Errorf("catalog: rejoin: %w", err)
	}
	_, err = c.request(ctx, AnyMember, req)
	return err
}

// setLost closes Lost with err (the first call wins).
func (c *Catalog) setLost(err error) {
	c.lostOnce.Do(func() {
		c.lostErr = err
		c.log.Error("catalog lost", "err", err)
		close(c.lost)
	})
}
