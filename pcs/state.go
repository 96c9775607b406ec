package pcs

import "io"

// StateBackend is where a stateful system (see [Stateful]) keeps keyed
// state: byte keys mapped to byte values, iterated in key order (bytes
// compared as by bytes.Compare). Package pcs/state has the in-memory
// backend, the default, and pcs/state/pebblestate a disk-backed one on
// Pebble for state larger than memory; pcs/state/statetest is the
// behaviour suite every backend passes.
//
// Callers: the system that owns the backend, from its Run and from its
// Checkpoint/Restore (the runtime excludes these from each other, see
// [Stateful]); tests and tools may read it concurrently. A backend is
// safe for concurrent use by multiple goroutines.
//
// Ownership: the backend copies the key and value it is given (Put,
// Delete, Get), so the caller may reuse them as soon as the call returns.
// The value Get returns is the caller's. The key and value Range passes
// to fn are valid only until fn returns: copy what is kept.
//
// Errors: a missing key is not an error (Get's ok is false, Delete does
// nothing). After Close every method returns an error wrapping
// state.ErrClosed. Other errors are I/O or corruption errors of the
// backend's storage; the state is then unknown (a runtime restores the
// last checkpoint).
type StateBackend interface {
	// Get returns the value of key; ok is false if key has none.
	Get(key []byte) (value []byte, ok bool, err error)
	// Put sets the value of key, replacing any earlier one.
	Put(key, value []byte) error
	// Delete removes key; a missing key is not an error.
	Delete(key []byte) error
	// Range calls fn for each key that starts with prefix (every key when
	// prefix is empty), in ascending key order, over the state as it was
	// when Range began: fn may call the backend's other methods, and
	// their changes are not seen by this Range. A non-nil error from fn
	// stops the iteration and Range returns it as is.
	Range(prefix []byte, fn func(key, value []byte) error) error
	// Snapshot writes the whole state to w, as it was when Snapshot began,
	// in the format of package pcs/state (the same for every backend, so
	// a snapshot restores into any backend).
	Snapshot(w io.Writer) error
	// Restore replaces the whole state with the one a Snapshot wrote. On
	// an error (r is not a valid snapshot, or I/O fails) the state is
	// unchanged, unless the error is the backend's own storage failing.
	Restore(r io.Reader) error
	// Close releases the backend's memory and files. The state is gone
	// with it unless the backend documents otherwise. Close is the last
	// call: it must not run concurrently with the others (nor from a
	// Range's fn); a second Close returns nil.
	Close() error
}

// StateFiles is an optional interface of a StateBackend whose state is a
// set of files, most of them immutable (an LSM store's SSTs): a runtime
// that checkpoints (pcs-node) stores only the files it has not stored
// before, so a checkpoint costs what changed, not the state's size. The
// Pebble backend (pcs/state/pebblestate) implements it.
//
// Callers: the backend's owner, excluded from the backend's other calls
// like Snapshot and Restore (see [Stateful]).
type StateFiles interface {
	// CheckpointFiles writes a consistent copy of the state as files into
	// a new directory of the backend's choosing (beside its store, so
	// that files can be hard links) and returns its path; the directory
	// is the caller's, to remove. Which files two checkpoints share (the
	// same name, size and contents) is the backend's to document.
	CheckpointFiles() (dir string, err error)
	// RestoreFiles replaces the state with a checkpoint's files in dir
	// (dir stays the caller's). On an error the state is unknown.
	RestoreFiles(dir string) error
}
