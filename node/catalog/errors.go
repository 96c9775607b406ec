package catalog

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them (test with
// errors.Is) and carry the details in the message.
var (
	// ErrInvalidConfig reports a Config that fails Validate. Open returns it
	// before touching the disk or the network.
	ErrInvalidConfig = errors.New("catalog: invalid config")

	// ErrInvalidCommand reports a Command that fails Command.Validate (a
	// missing pipeline, partition id, node id, ...). Apply returns it before
	// proposing anything; it is permanent, retrying does not help.
	ErrInvalidCommand = errors.New("catalog: invalid command")

	// ErrClosed reports a call on a Catalog after Close or Shutdown began, or
	// a Raft instance that was shut down underneath (after the leader removed
	// this server, for example as dead): Shutdown the Catalog and Open it
	// again to re-join.
	ErrClosed = errors.New("catalog: closed")

	// ErrNoLeader reports that no leader was known (or reachable) for the
	// whole retry budget of an Apply or Join: the cluster has no quorum, or
	// this node is not a member yet.
	ErrNoLeader = errors.New("catalog: no leader")

	// ErrNotLeader is the reply of a node that was asked to act as leader but
	// is not (any more). Apply and Join retry it internally; it reaches the
	// caller only wrapped in ErrNoLeader or a context error.
	ErrNotLeader = errors.New("catalog: not the leader")

	// ErrUnknownOutcome reports that a command may or may not have been
	// applied: leadership was lost while committing, the leader did not answer
	// in time, or the caller's ctx ended mid-flight. Commands are idempotent
	// (section "Idempotence" of the package doc), so applying the same
	// Command (same ID) again is always safe.
	ErrUnknownOutcome = errors.New("catalog: outcome unknown")

	// ErrSnapshotVersion reports a snapshot whose format version this build
	// does not know. Restore refuses it and leaves the FSM unchanged.
	ErrSnapshotVersion = errors.New("catalog: unknown snapshot version")

	// ErrCorrupt reports a Raft log entry, snapshot or forwarded message that
	// cannot be decoded.
	ErrCorrupt = errors.New("catalog: corrupt data")

	// ErrNotDelivered is what a Forwarder's Request wraps when the request
	// certainly reached no handler (no node listens on the subject), so
	// nothing was applied and a retry is clean.
	ErrNotDelivered = errors.New("catalog: request not delivered")

	// ErrMembership reports a failed membership change (AddVoter,
	// AddNonvoter, RemoveServer) on the leader.
	ErrMembership = errors.New("catalog: membership change failed")

	// ErrRemoved reports, through Catalog.Lost, that this node can no
	// longer take part in the catalog without a restart: the leader removed
	// it from the Raft configuration and its Raft shut down. Restarting the
	// process (Open again on the same Dir) joins it again.
	ErrRemoved = errors.New("catalog: removed from the Raft configuration")
)

// configErr builds an ErrInvalidConfig error naming the field.
func configErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// commandErr builds an ErrInvalidCommand error naming the command type.
func commandErr(t CommandType, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidCommand, t, fmt.Sprintf(format, args...))
}
