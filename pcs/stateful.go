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
