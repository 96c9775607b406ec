package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// Catalog is one node of the catalog's Raft group: it owns the Raft instance
// (raft-wal log on disk, file snapshots, TCP transport), the FSM, the
// leader's command batcher, the forwarding listener and the membership
// loops. Open it, use it from any goroutine, Close it (graceful leave) or
// Shutdown it (stop, stay a member).
type Catalog struct {
	cfg  Config
	log  *slog.Logger
	fsm  *FSM
	raft *raft.Raft
	wal  *wal.WAL
	// meta is raft-wal's metadata store. WAL.Close (v0.4.0) does not close
	// it, which keeps its file lock and blocks a reopen: Shutdown does.
	meta *metadb.BoltMetaDB
	// ownTrans is the transport Open made (closed at Shutdown); nil when
	// Config.Transport was given.
	ownTrans io.Closer
	addr     raft.ServerAddress
	fwd      Forwarder
	unlisten func() error

	session string
	seq     atomic.Uint64

	applyCh  chan *applyReq
	fwdCh    chan *fwdCall
	pending  chan pendingEntry
	notifyCh chan bool

	ctx      context.Context // background work; cancelled by Shutdown
	cancel   context.CancelFunc
	closing  chan struct{}
	closed   atomic.Bool
	wg       sync.WaitGroup
	hbCancel context.CancelFunc
	hbDone   chan struct{}
	// leaving is set when Close begins the graceful leave: healLoop then
	// neither re-joins nor reports the removal it asked for.
	leaving atomic.Bool
	// lost is closed (once, lostErr set before) when this node can no
	// longer take part without a restart (membership.go, Lost).
	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error

	shutdownOnce sync.Once
	shutdownErr  error

	met *metrics // metrics.go
}

// maxInflightEntries bounds the Raft entries the batcher has proposed and
// not yet seen committed (plus one being proposed). While they are in flight
// new requests queue up and go out together in the next entry: measured on
// the benchmark (64 callers, one completion each, one node on disk),
// 256 in flight gave 1.2 completions per entry and 13k completions/s, 4 gave
// 8 per entry and 43k/s, 1 gave 16 per entry but 38k/s.
const maxInflightEntries = 4

type applyReq struct {
	cmds []Command
	done chan applyResp // buffered 1
}

type applyResp struct {
	results []Result
	err     error
}

type pendingEntry struct {
	fut  raft.ApplyFuture
	reqs []*applyReq
}

// Open starts a catalog node: it opens (or creates) the Raft state in
// cfg.Dir, starts Raft and the forwarding listener on fwd, then
//   - with cfg.Bootstrap and no existing state: bootstraps a one-voter
//     cluster and waits until this node leads;
//   - without existing state otherwise (or when this node is not in the
//     latest configuration it knows): joins through any member (see Join)
//     and waits until it knows the leader;
//   - with existing state: just starts (a restart) and re-joins in the
//     background (idempotent: it updates a changed address and re-adds a
//     node removed while away); the node catches up once a quorum is up
//     (see WaitLeader).
//
// Finally it starts the heartbeat loop. ctx bounds the bootstrap or join
// wait only. On error everything started is stopped again. fwd must be
// listening-capable for cfg.NodeID (e.g. NewNATSForwarder) and stay usable
// until Close returns.
func Open(ctx context.Context, cfg Config, fwd Forwarder) (_ *Catalog, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if fwd == nil {
		return nil, configErr("forwarder", "required")
	}
	if cfg.LeaderLeaseTimeout == 0 {
		cfg.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	}
	if cfg.CommitTimeout == 0 {
		cfg.CommitTimeout = 10 * time.Millisecond
	}
	base := cfg.Logger
	if base == nil {
		base = slog.Default()
	}
	hlog := newRaftLogger(base.With("node", cfg.NodeID), cfg.RaftLogLevel)
	bg, cancel := context.WithCancel(context.Background())
	c := &Catalog{
		cfg:      cfg,
		log:      base.With("component", "catalog", "node", cfg.NodeID),
		fsm:      NewFSM(),
		fwd:      fwd,
		session:  cfg.NodeID + "." + strconv.FormatInt(time.Now().UnixNano(), 36),
		applyCh:  make(chan *applyReq, 1024),
		fwdCh:    make(chan *fwdCall, 1024),
		pending:  make(chan pendingEntry, maxInflightEntries),
		notifyCh: make(chan bool, 16),
		ctx:      bg,
		cancel:   cancel,
		closing:  make(chan struct{}),
		lost:     make(chan struct{}),
		met:      newMetrics(),
	}
	defer func() {
		if err != nil {
			_ = c.Shutdown()
		}
	}()

	walDir := filepath.Join(cfg.Dir, "wal")
	if err := os.MkdirAll(walDir, 0o750); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c.meta = &metadb.BoltMetaDB{}
	c.wal, err = wal.Open(walDir, wal.WithSegmentSize(cfg.WALSegmentSize), wal.WithLogger(hlog.Named("wal")), wal.WithMetaStore(c.meta))
	if err != nil {
		return nil, fmt.Errorf("catalog: open raft-wal %s: %w", walDir, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, hlog)
	if err != nil {
		return nil, fmt.Errorf("catalog: snapshot store: %w", err)
	}
	trans := cfg.Transport
	if trans == nil {
		var adv net.Addr
		if cfg.AdvertiseAddr != "" {
			if adv, err = net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr); err != nil {
				return nil, configErr("advertise_addr", "%v", err)
			}
		}
		var nt *raft.NetworkTransport
		if cfg.TLS.Enabled() {
			nt, err = newTLSTransport(cfg.TLS, cfg.BindAddr, adv, hlog)
		} else {
			nt, err = raft.NewTCPTransportWithLogger(cfg.BindAddr, adv, 3, 10*time.Second, hlog)
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: raft transport on %s: %w", cfg.BindAddr, err)
		}
		c.ownTrans, trans = nt, nt
	}
	c.addr = trans.LocalAddr()

	has, err := raft.HasExistingState(c.wal, c.wal, snaps)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	// Not BatchApplyCh: with a buffered apply channel a raft.Apply racing
	// Shutdown can enqueue a future nobody ever answers. The batcher
	// coalesces commands itself, and Raft still groups the entries queued
	// behind one another into one disk write.
	rc.BatchApplyCh = false
	rc.ShutdownOnRemove = true
	rc.NoLegacyTelemetry = true
	rc.NotifyCh = c.notifyCh
	rc.Logger = hlog
	if c.raft, err = raft.NewRaft(rc, meteredFSM{c.fsm, c.met}, c.wal, c.wal, snaps, trans); err != nil {
		return nil, fmt.Errorf("catalog: start raft: %w", err)
	}
	c.observeLeaders()
	c.wg.Go(c.leadershipLoop)
	c.wg.Go(c.batchLoop)
	c.wg.Go(c.commitLoop)
	c.wg.Go(c.forwardLoop)
	if c.unlisten, err = fwd.Listen(cfg.NodeID, c.handle); err != nil {
		return nil, err
	}

	switch {
	case cfg.Bootstrap && !has:
		f := c.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: c.addr}}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("catalog: bootstrap: %w", err)
		}
		if _, err := c.WaitLeader(ctx); err != nil {
			return nil, err
		}
	case !has || !c.inConfiguration():
		if err := c.Join(ctx); err != nil {
			return nil, err
		}
		if _, err := c.WaitLeader(ctx); err != nil {
			return nil, err
		}
	default:
		// A restart: do not wait for a quorum (the other nodes may start
		// later), but join again in the background. Join is idempotent; it
		// updates a changed address and re-adds a node that was removed
		// while it was away and never learned about it.
		c.wg.Go(func() {
			if err := c.Join(c.ctx); err != nil && c.ctx.Err() == nil {
				c.log.Warn("catalog re-join after restart failed", "err", err)
			}
		})
	}
	hctx, hcancel := context.WithCancel(bg)
	c.hbCancel, c.hbDone = hcancel, make(chan struct{})
	go c.heartbeatLoop(hctx)
	c.wg.Go(func() { c.healLoop(c.ctx) })
	c.log.Info("catalog open", "raft_addr", string(c.addr), "existing_state", has)
	return c, nil
}

// NodeID returns this node's id.
func (c *Catalog) NodeID() string { return c.cfg.NodeID }

// Addr returns the advertised Raft address of this node.
func (c *Catalog) Addr() string { return string(c.addr) }

// FSM returns the state machine, for queries. Do not call its Apply,
// Restore or Snapshot.
func (c *Catalog) FSM() *FSM { return c.fsm }

// Raft returns the underlying Raft instance, for tests and tooling
// (statistics, snapshots). Do not Shutdown it: use Close or Shutdown.
func (c *Catalog) Raft() *raft.Raft { return c.raft }

// IsLeader reports whether this node is the Raft leader now.
func (c *Catalog) IsLeader() bool { return c.raft.State() == raft.Leader }

// Leader returns the leader's node id and Raft address as this node knows
// them ("" if none).
func (c *Catalog) Leader() (id, addr string) {
	a, i := c.raft.LeaderWithID()
	return string(i), string(a)
}

// WaitLeader waits until this node knows a leader and returns its id. It
// returns ctx's error (wrapped in ErrNoLeader) if ctx ends first, ErrClosed
// after Shutdown.
func (c *Catalog) WaitLeader(ctx context.Context) (string, error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if _, id := c.raft.LeaderWithID(); id != "" {
			return string(id), nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return "", fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-c.closing:
			return "", ErrClosed
		}
	}
}

// CatchUp waits until this node's FSM has applied every entry committed
// when it is called: on the leader a Raft barrier, elsewhere until the
// applied index reaches the commit index Raft reports. A node reads its
// local copy (IsDone, Checkpoint): after a restart it must catch up
// before trusting it, or a checkpoint committed before the crash would
// look missing. Errors: ctx's (wrapped in ErrNoLeader), ErrClosed.
func (c *Catalog) CatchUp(ctx context.Context) error {
	if c.IsLeader() {
		timeout := 10 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		if err := c.raft.Barrier(timeout).Error(); err != nil {
			return fmt.Errorf("catalog: catch up: %w", classifyRaft(err))
		}
		return nil
	}
	commit, _ := strconv.ParseUint(c.raft.Stats()["commit_index"], 10, 64)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for c.raft.AppliedIndex() < commit {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("%w: catch up: %w", ErrNoLeader, ctx.Err())
		case <-c.closing:
			return ErrClosed
		}
	}
	return nil
}

// Snapshot makes Raft take a snapshot now and truncate its log (keeping
// Config.TrailingLogs entries). Raft also snapshots on its own (see
// Config.SnapshotThreshold).
func (c *Catalog) Snapshot() error {
	if err := c.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("catalog: snapshot: %w", err)
	}
	return nil
}

// IsDone reports whether partition id of pipeline is recorded as done, on
// this node's copy of the state (a follower may lag the leader by the
// replication delay: a false negative only causes a redundant, idempotent
// reprocessing). Safe from any goroutine.
func (c *Catalog) IsDone(pipeline, id string) bool { return c.fsm.IsDone(pipeline, id) }

// Checkpoint returns the latest checkpoint of a pipeline's shard (local
// copy, see IsDone).
func (c *Catalog) Checkpoint(pipeline string, shard int) (Checkpoint, bool) {
	return c.fsm.Checkpoint(pipeline, shard)
}

// Watermark returns the pipeline's effective watermark (minimum over its
// sources) in Unix ms (local copy, see IsDone).
func (c *Catalog) Watermark(pipeline string) (int64, bool) { return c.fsm.Watermark(pipeline) }

// ShardOwner returns the current owner of a pipeline's shard with its epoch
// (local copy, see IsDone).
func (c *Catalog) ShardOwner(pipeline string, shard int) (ShardAssignment, bool) {
	return c.fsm.ShardOwner(pipeline, shard)
}

// Hash returns FSM.Hash of this node's state.
func (c *Catalog) Hash() uint64 { return c.fsm.Hash() }

// nextID returns a fresh command id of this node's session.
func (c *Catalog) nextID() CommandID {
	return CommandID{Session: c.session, Seq: c.seq.Add(1)}
}

// RecordPartitions records partition outcomes (each record's Status says
// which) as one TypeBatch command: the runner's call after publishing a
// partition's outputs and before acking its input. Errors as Apply.
func (c *Catalog) RecordPartitions(ctx context.Context, recs ...PartitionRecord) error {
	if len(recs) == 0 {
		return nil
	}
	_, err := c.Apply(ctx, NewBatch(recs...))
	return err
}

// Apply applies commands to the catalog and returns one Result per command,
// in order, once they are committed and applied on the leader (the local
// FSM may apply them a little later on a follower). It works on any node:
// on the leader the commands join the batcher, which coalesces concurrent
// callers' commands into one Raft entry; elsewhere they are forwarded to the
// leader. Commands without an ID get one.
//
// Not-leader replies, leader changes, lost leadership and forwarding
// timeouts are retried with exponential backoff within ctx and
// Config.ApplyTimeout; that is safe because commands are idempotent. Errors:
// ErrInvalidCommand (nothing applied), ErrClosed, ErrNoLeader (no attempt
// can have been applied), ErrUnknownOutcome (some attempt may have been
// applied: apply the same commands again to be sure). Safe for concurrent
// use.
func (c *Catalog) Apply(ctx context.Context, cmds ...Command) ([]Result, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	own := make([]Command, len(cmds))
	for i, cmd := range cmds {
		if err := cmd.Validate(); err != nil {
			return nil, err
		}
		cmd.Partitions = slices.Clone(cmd.Partitions)
		cmd.normalize()
		if cmd.ID.IsZero() {
			cmd.ID = c.nextID()
		}
		own[i] = cmd
	}
	var res []Result
	defer c.met.observeApply(time.Now())
	err := c.retry(ctx, func(actx context.Context) error {
		var err error
		res, err = c.applyOnce(actx, own)
		return err
	})
	return res, err
}

// applyOnce makes one attempt: locally on the leader, forwarded otherwise.
func (c *Catalog) applyOnce(ctx context.Context, cmds []Command) ([]Result, error) {
	switch c.raft.State() {
	case raft.Leader:
		return c.applyLocal(ctx, cmds)
	case raft.Shutdown:
		// Raft shuts itself down when the leader removes this server
		// (Config.ShutdownOnRemove): re-open the Catalog to join again.
		return nil, fmt.Errorf("%w: raft is shut down (removed from the cluster?)", ErrClosed)
	}
	_, lid := c.raft.LeaderWithID()
	if lid == "" || string(lid) == c.cfg.NodeID {
		return nil, fmt.Errorf("%w: no leader known", ErrNotLeader)
	}
	call := &fwdCall{to: string(lid), cmds: cmds, done: make(chan applyResp, 1)}
	select {
	case c.fwdCh <- call:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
	case <-c.closing:
		return nil, ErrClosed
	}
	select {
	case r := <-call.done:
		return r.results, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	case <-c.closing:
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ErrClosed)
	}
}

// fwdCall is one caller's commands waiting to be forwarded to the leader.
type fwdCall struct {
	to   string
	cmds []Command
	done chan applyResp // buffered 1
}

// forwardLoop is a follower's batcher, the mirror of batchLoop: with at most
// maxInflightEntries forwarded requests in flight, it sends everything
// queued meanwhile (up to Config.MaxBatch partition records) to the leader
// as one request, so concurrent callers on a follower share NATS round trips
// and Raft entries.
func (c *Catalog) forwardLoop() {
	sem := make(chan struct{}, maxInflightEntries)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		var first *fwdCall
		select {
		case first = <-c.fwdCh:
		case <-c.closing:
			for {
				select {
				case r := <-c.fwdCh:
					r.done <- applyResp{err: ErrClosed}
				default:
					return
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-c.closing:
			first.done <- applyResp{err: ErrClosed}
			continue
		}
		calls := []*fwdCall{first}
		n := weight(first.cmds)
	fill:
		for n < c.cfg.MaxBatch {
			select {
			case r := <-c.fwdCh:
				if r.to != first.to { // the leader changed: clean retry
					r.done <- applyResp{err: fmt.Errorf("%w: leader changed", ErrNotLeader)}
					continue
				}
				calls = append(calls, r)
				n += weight(r.cmds)
			default:
				break fill
			}
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-sem }()
			c.sendForward(first.to, calls)
		}()
	}
}

// sendForward sends the calls' commands to the leader as one request and
// hands each call its slice of the results (or the error).
func (c *Catalog) sendForward(to string, calls []*fwdCall) {
	var cmds []Command
	for _, r := range calls {
		cmds = append(cmds, r.cmds...)
	}
	fail := func(err error) {
		for _, r := range calls {
			r.done <- applyResp{err: err}
		}
	}
	req, err := json.Marshal(fwdRequest{Op: opApply, Commands: cmds})
	if err != nil {
		fail(fmt.Errorf("%w: %v", ErrInvalidCommand, err))
		return
	}
	rep, err := c.request(c.ctx, to, req)
	if err != nil {
		fail(err)
		return
	}
	if len(rep.Results) != len(cmds) {
		fail(fmt.Errorf("%w: %d results for %d commands", ErrUnknownOutcome, len(rep.Results), len(cmds)))
		return
	}
	off := 0
	for _, r := range calls {
		n := len(r.cmds)
		r.done <- applyResp{results: rep.Results[off : off+n : off+n]}
		off += n
	}
}

// request sends one forwarded request and decodes the reply; errors are
// classified like local ones.
func (c *Catalog) request(ctx context.Context, to string, req []byte) (fwdReply, error) {
	fctx, cancel := context.WithTimeout(ctx, c.cfg.ForwardTimeout)
	defer cancel()
	data, err := c.fwd.Request(fctx, to, req)
	if err != nil {
		if errors.Is(err, ErrNotDelivered) {
			return fwdReply{}, fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return fwdReply{}, fmt.Errorf("%w: forward to %s: %w", ErrUnknownOutcome, to, err)
	}
	var rep fwdReply
	if err := json.Unmarshal(data, &rep); err != nil {
		return fwdReply{}, fmt.Errorf("%w: forward reply: %v", ErrUnknownOutcome, err)
	}
	return rep, replyErr(rep)
}

// applyLocal hands the commands to the leader's batcher and waits for their
// results.
func (c *Catalog) applyLocal(ctx context.Context, cmds []Command) ([]Result, error) {
	req := &applyReq{cmds: cmds, done: make(chan applyResp, 1)}
	select {
	case c.applyCh <- req:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
	case <-c.closing:
		return nil, ErrClosed
	}
	select {
	case r := <-req.done:
		return r.results, classifyRaft(r.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	case <-c.closing:
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ErrClosed)
	}
}

// classifyRaft maps raft's errors to this package's: clean rejections to
// ErrNotLeader, unknown outcomes to ErrUnknownOutcome, shutdown to
// ErrClosed.
func classifyRaft(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// retry runs op with exponential backoff until it succeeds, fails
// permanently, or the budget (ctx, Config.ApplyTimeout) ends. ErrNotLeader
// and ErrUnknownOutcome are retried; the final error says whether any
// attempt may have been applied.
func (c *Catalog) retry(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ApplyTimeout)
	defer cancel()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 5 * time.Millisecond
	b.MaxInterval = max(c.cfg.ElectionTimeout, 50*time.Millisecond)
	var maybeApplied bool
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		if c.closed.Load() {
			return struct{}{}, backoff.Permanent(ErrClosed)
		}
		err := op(ctx)
		switch {
		case err == nil:
			return struct{}{}, nil
		case errors.Is(err, ErrUnknownOutcome):
			maybeApplied = true
		case errors.Is(err, ErrNotLeader), errors.Is(err, ErrNoLeader), errors.Is(err, ErrMembership):
		default:
			return struct{}{}, backoff.Permanent(err)
		}
		last = err
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(c.cfg.ApplyTimeout))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrClosed) || errors.Is(err, ErrInvalidCommand) || errors.Is(err, ErrCorrupt):
		return err
	case maybeApplied:
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, cmp(last, err))
	default:
		return fmt.Errorf("%w: %w", ErrNoLeader, cmp(last, err))
	}
}

// cmp returns the more informative of the last attempt's error and the
// final one.
func cmp(last, final error) error {
	if last != nil && (errors.Is(final, context.DeadlineExceeded) || errors.Is(final, context.Canceled)) {
		return fmt.Errorf("%w (last attempt: %v)", final, last)
	}
	return final
}

// batchLoop is the leader's batcher: it takes the first waiting request,
// adds whatever else is queued (up to Config.MaxBatch partition records),
// and proposes them as one Raft entry without waiting for the commit
// (commitLoop does), so encoding the next entry overlaps the disk write of
// the previous one. Raft in turn writes up to MaxAppendEntries entries per
// fsync.
func (c *Catalog) batchLoop() {
	defer close(c.pending)
	for {
		var first *applyReq
		select {
		case first = <-c.applyCh:
		case <-c.closing:
			for {
				select {
				case r := <-c.applyCh:
					r.done <- applyResp{err: ErrClosed}
				default:
					return
				}
			}
		}
		reqs := []*applyReq{first}
		n := weight(first.cmds)
	fill:
		for n < c.cfg.MaxBatch {
			select {
			case r := <-c.applyCh:
				reqs = append(reqs, r)
				n += weight(r.cmds)
			default:
				break fill
			}
		}
		var cmds []Command
		if len(reqs) == 1 {
			cmds = first.cmds
		} else {
			for _, r := range reqs {
				cmds = append(cmds, r.cmds...)
			}
		}
		data, err := encodeEntry(cmds)
		if err != nil {
			for _, r := range reqs {
				r.done <- applyResp{err: fmt.Errorf("%w: %v", ErrInvalidCommand, err)}
			}
			continue
		}
		c.pending <- pendingEntry{fut: c.raft.Apply(data, c.cfg.ForwardTimeout), reqs: reqs}
	}
}

// weight counts a request for MaxBatch: its partition records, at least 1
// per command.
func weight(cmds []Command) int {
	n := 0
	for i := range cmds {
		n += max(1, len(cmds[i].Partitions))
	}
	return n
}

// commitLoop waits for the proposed entries in order and hands each caller
// its slice of the results.
func (c *Catalog) commitLoop() {
	for pe := range c.pending {
		err := c.wait(pe.fut)
		var results []Result
		if err == nil {
			switch v := pe.fut.Response().(type) {
			case []Result:
				results = v
			case error:
				err = v
			default:
				err = fmt.Errorf("%w: FSM response %T", ErrCorrupt, v)
			}
		}
		off := 0
		for _, r := range pe.reqs {
			n := len(r.cmds)
			switch {
			case err != nil:
				r.done <- applyResp{err: err}
			case off+n > len(results):
				r.done <- applyResp{err: fmt.Errorf("%w: %d results for %d commands", ErrCorrupt, len(results), off+n)}
			default:
				r.done <- applyResp{results: results[off : off+n : off+n]}
			}
			off += n
		}
	}
}

// wait returns f.Error(), or an unknown-outcome error if the Catalog shuts
// down while f is unanswered (Raft has then stopped: it never will be; the
// helper goroutine stays blocked).
func (c *Catalog) wait(f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-c.closing:
		select {
		case err := <-done:
			return err
		case <-time.After(100 * time.Millisecond):
			return fmt.Errorf("%w: %w", ErrUnknownOutcome, ErrClosed)
		}
	}
}

// leadershipLoop drains Raft's NotifyCh (Raft blocks on it) and runs the
// leader duties while this node leads. It ends when Shutdown cancels c.ctx,
// which happens after Raft has shut down.
func (c *Catalog) leadershipLoop() {
	var stop context.CancelFunc
	for {
		select {
		case leader := <-c.notifyCh:
			if leader && stop == nil {
				var lctx context.Context
				lctx, stop = context.WithCancel(c.ctx)
				c.log.Info("catalog leadership acquired")
				c.wg.Go(func() { c.leaderLoop(lctx) })
			} else if !leader && stop != nil {
				c.log.Info("catalog leadership lost")
				stop()
				stop = nil
			}
		case <-c.ctx.Done():
			if stop != nil {
				stop()
			}
			return
		}
	}
}

// heartbeatLoop applies a Heartbeat now and every Config.HeartbeatInterval.
func (c *Catalog) heartbeatLoop(ctx context.Context) {
	defer close(c.hbDone)
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, 2*c.cfg.HeartbeatInterval)
		if _, err := c.Apply(hctx, NewHeartbeat(c.self())); err != nil && ctx.Err() == nil {
			c.log.Debug("catalog heartbeat failed", "err", err)
		}
		cancel()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// self describes this node.
func (c *Catalog) self() NodeInfo {
	return NodeInfo{ID: c.cfg.NodeID, RaftAddr: string(c.addr), HTTPAddr: c.cfg.HTTPAddr, Role: c.cfg.Role, Time: time.Now()}
}

// Close leaves the cluster gracefully, then shuts the node down: it stops
// the heartbeats; if this node leads and other voters exist, it transfers
// leadership first; then the (new) leader removes this server from the Raft
// configuration and the node table. ctx bounds the leave; if it fails
// (no quorum, ctx ended), Close still shuts down and returns the leave error
// joined with any shutdown error; the dead-node loop of the leader removes
// the node later. A node that is the only server just shuts down (its
// state stays on disk). Call Close or Shutdown once; further calls return
// the first result.
func (c *Catalog) Close(ctx context.Context) error {
	var leaveErr error
	if !c.closed.Load() {
		leaveErr = c.leave(ctx)
		if leaveErr != nil {
			c.log.Warn("catalog leave failed", "err", leaveErr)
		}
	}
	return errors.Join(leaveErr, c.Shutdown())
}

// Shutdown stops the node without leaving the cluster (a restart, or a
// crash in tests): it stops the forwarding listener and the loops, shuts
// Raft down, and closes the transport (when Open made it) and the log
// store. Pending Apply calls return ErrClosed or ErrUnknownOutcome.
// Safe to call more than once.
func (c *Catalog) Shutdown() error {
	c.shutdownOnce.Do(func() {
		c.closed.Store(true)
		var errs []error
		if c.hbCancel != nil {
			c.hbCancel()
			<-c.hbDone
		}
		if c.unlisten != nil {
			errs = append(errs, c.unlisten())
		}
		if c.raft != nil {
			if err := c.raft.Shutdown().Error(); err != nil && !errors.Is(err, raft.ErrRaftShutdown) {
				errs = append(errs, fmt.Errorf("catalog: raft shutdown: %w", err))
			}
		}
		c.cancel()
		close(c.closing)
		c.wg.Wait()
		if c.ownTrans != nil {
			errs = append(errs, c.ownTrans.Close())
		}
		if c.wal != nil {
			errs = append(errs, c.wal.Close())
		}
		if c.meta != nil {
			errs = append(errs, c.meta.Close())
		}
		c.shutdownErr = errors.Join(errs...)
	})
	return c.shutdownErr
}
