// Package catalog is the replicated partition catalog of a pcs-node fleet
// (DESIGN section 6): a hashicorp/raft group whose state machine records
// which partitions are done, failed or dead-lettered, the checkpoint
// references of keyed-state shards, the watermarks, the node table and the
// shard assignments.
//
// # Using it
//
// Every node opens a Catalog with a Forwarder (NewNATSForwarder on the
// node's NATS connection). One node of a new cluster sets Config.Bootstrap;
// the others join through any member:
//
//	cfg := catalog.DefaultConfig()
//	cfg.NodeID, cfg.Dir = "n1", "/var/lib/pcs/catalog"
//	cfg.BindAddr, cfg.AdvertiseAddr = "0.0.0.0:7400", "10.0.0.1:7400"
//	cfg.Bootstrap = true // on one node only
//	cat, err := catalog.Open(ctx, cfg, catalog.NewNATSForwarder(nc, "pcs"))
//	defer cat.Close(ctx) // graceful leave
//
// Catalogs in one process (tests, single-process tools) can forward over a
// MemoryNetwork instead of NATS; package catalogtest starts whole clusters
// inside a test that way, on real Raft.
//
// The runner asks IsDone before processing a partition (and acks it at once
// if true), records outcomes with RecordPartitions (or Apply with the New*
// commands) after publishing the outputs and before acking the input,
// and reads Checkpoint, Watermark, ShardOwner and Status. Queries read the
// local copy of the state; writes go through Raft.
//
// # Commands and batching
//
// A Command is one change (partition done/failed/dead-lettered, a batch of
// partition outcomes, checkpoint committed, watermark advanced, node joined
// or left, heartbeat, shard assigned, compact). Catalog.Apply works on every
// node: the leader coalesces concurrent callers' commands into one Raft entry
// (up to Config.MaxBatch partition records, with at most 4 entries in flight
// so that what arrives meanwhile rides in the next one; Raft then writes the
// queued entries with one fsync); followers coalesce the same way and forward
// to the leader over NATS request/reply ("pcs.catalog.<cluster>.<node id>").
// A forwarded request must fit the NATS max payload (1 MiB by default): keep
// a single RecordPartitions call to about a thousand records. Raft entries
// stay small: they carry references, never data.
//
// Measured (2 vCPU, loaded, raft-wal on disk; BenchmarkCatalogCompletions):
// one caller ~3.5-5k completions/s (one fsync each, p50 0.2 ms); 64 callers
// on one node ~30-40k/s (8-18 per entry, p50 ~1.4 ms, p99 ~10 ms); three
// nodes on loopback, callers on all nodes, ~10k/s one completion per call
// and ~20-35k/s with 16 per call (p50 5-10 ms, p99 20-60 ms).
//
// # Idempotence
//
// Delivery is at least once and a lost leader makes an Apply's outcome
// unknown, so Apply retries, and every command is idempotent twice over:
//
//   - By command ID. Each command carries a CommandID (session, sequence);
//     the Catalog assigns them (session = node id + an incarnation chosen at
//     Open, so restarts never reuse ids). For each session the FSM keeps the
//     highest contiguous applied sequence (the floor) plus the set of applied
//     sequences above it; a command at or below the floor or in the set is a
//     no-op (Result.Applied false). The set is bounded (16384 per session):
//     beyond that the floor jumps over the oldest gap, so a command retried
//     after more than that many newer ones of its session is dropped (its
//     effects are idempotent anyway, see below). Compact forgets sessions
//     idle since its cutoff. Memory: one small record per live session.
//   - By effect. Partition outcomes merge by partition id with status rank
//     failed < dead-lettered < done: done twice counts once, and a late
//     failure never undoes a success. Watermarks only move forward;
//     checkpoints keep the one with the highest Covers; heartbeats keep the
//     latest time.
//
// Apply is deterministic: it never reads the clock. Times come from the
// commands and from the Raft log's AppendedAt (the leader's clock, stored in
// the log), which stamps heartbeats, so that all heartbeats of the node
// table are on one clock.
//
// # Compaction
//
// A Compact command (the leader runs it with now - retention) moves done and
// dead-lettered partition records older than the cutoff into a per-pipeline
// set of ids with their status. IsDone still answers for them and the
// per-pipeline counters (done, failed, dead-lettered, rows, bytes) keep
// counting them; only the details (subject, sequence, outputs, ...) are
// dropped. An id costs its string plus a map entry (~60-80 bytes).
//
// # Membership
//
// Voters are capped at Config.MaxVoters (3 or 5); further nodes join as
// non-voters and are promoted when a voter goes away. Each node applies a
// Heartbeat every Config.HeartbeatInterval; the leader removes servers
// whose last heartbeat is older than Config.DeadNodeTimeout. Close leaves
// gracefully (leadership transfer first if leading, then removal by the
// leader); Shutdown stops without leaving (restarts).
//
// # Snapshots
//
// The snapshot format is versioned (SnapshotVersion; JSON). Restore refuses
// unknown versions with ErrSnapshotVersion. The log store is raft-wal on
// disk (hashicorp/raft v1.8.0 builds only with raft-wal v0.4.0, DESIGN
// section 10), snapshots are raft.FileSnapshotStore files.
package catalog
