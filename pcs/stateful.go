package pcs

import "github.com/apache/arrow-go/v18/arrow/memory"

// Stateful is an optional interface of a System whose state outlives one
// dataset: running totals, the keys a deduplicator remembers, a model
// being trained. A runtime that checkpoints (pcs-node with a catalog)
// asks for the state between runs and gives it back after a restart, so
// the state survives a crash without counting any partition twice or
// losing one (Flink's checkpointed operator state, without barriers: the
// node holds the acks of the partitions a checkpoint covers until it is
// committed).
//
// Checkpoint and Restore are never called while Run runs on the same
// system (the runtime excludes them), but they may be called from any
// goroutine.
type Stateful interface {
	System
	// Checkpoint returns a copy of the state as a Dataset allocated from
	// mem; the caller releases it. It must not share buffers with the
	// state the system keeps mutating.
	Checkpoint(mem memory.Allocator) (*Dataset, error)
	// Restore replaces the state with the one ds holds (a Dataset that
	// Checkpoint returned, possibly written to and read from storage). ds
	// stays the caller's: retain what is kept. An error means ds is not a
	// state of this system; the system's state is then unchanged.
	Restore(ds *Dataset) error
}

// StatefulFiles is an optional interface of a Stateful system whose state
// may be kept as files (a backend implementing StateFiles, such as the
// Pebble one): a runtime that checkpoints (pcs-node) then checkpoints the
// files, storing only those it has not stored before, instead of
// Checkpoint's Dataset. The calls are excluded from Run like Checkpoint
// and Restore.
type StatefulFiles interface {
	Stateful
	// StateFiles reports whether the state is kept as files now (false:
	// use Checkpoint and Restore).
	StateFiles() bool
	// SnapshotFiles copies the state as files into a new directory, dir
	// (the caller's, to remove; see StateFiles.CheckpointFiles), and
	// returns with it head, the little the system needs besides them.
	SnapshotFiles() (head []byte, dir string, err error)
	// RestoreFiles replaces the state with one SnapshotFiles returned
	// (dir stays the caller's). An error about head leaves the state
	// unchanged; a backend error leaves it unknown.
	RestoreFiles(head []byte, dir string) error
}
