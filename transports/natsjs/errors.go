package natsjs

import (
	"errors"
	"fmt"
)

// Sentinel errors of package natsjs. Errors returned by the package wrap
// them (test with errors.Is) and add context such as the partition id.
var (
	// ErrCorrupt marks a partition that can never be decoded: the body is
	// not a valid Arrow IPC stream, exceeds the IPC reader's size limits,
	// disagrees with its own headers (rows, schema fingerprint), or its
	// claim-check object is missing or does not match the recorded digest.
	// Redelivery cannot fix it: the node treats it as permanent (dead
	// letter, then Term).
	ErrCorrupt = errors.New("natsjs: corrupt partition")

	// ErrBadHeader is wrapped (together with ErrCorrupt) by ParseMeta when a
	// Pcs-* header is present but malformed.
	ErrBadHeader = errors.New("natsjs: bad header")

	// ErrNoBatches is returned by Encode and Publish when given no record
	// batch: a partition always carries at least one (possibly empty)
	// batch, so that its schema is known.
	ErrNoBatches = errors.New("natsjs: no record batches")

	// ErrBadID is returned for a partition or source id that is empty or
	// contains a comma, whitespace or a control character (ids travel in
	// headers and in the comma-separated Pcs-Lineage list).
	ErrBadID = errors.New("natsjs: bad id")

	// ErrNoSourceID is returned by NewPublisher when WithSourceID was not
	// given.
	ErrNoSourceID = errors.New("natsjs: source id required")

	// ErrClosed is returned by a Publisher, Consumer, Ordered reader or
	// Source after its Close.
	ErrClosed = errors.New("natsjs: closed")

	// ErrNoObjectStore is returned when a partition carries a claim check
	// (Pcs-Object) but no ObjectStores resolver was given to decode it.
	ErrNoObjectStore = errors.New("natsjs: claim check needs an object store")

	// ErrEventTime is returned when the configured event-time column is
	// missing or is not a timestamp or date column.
	ErrEventTime = errors.New("natsjs: bad event-time column")

	// ErrAckPending is returned by Source.Read and Source.Next when the
	// partitions read and not yet acked reach the consumer's
	// MaxAckPending (the server would deliver nothing more): call Ack.
	ErrAckPending = errors.New("natsjs: too many unacked partitions")

	// ErrAckTimeout is the (retryable) error of a publish whose ack did not
	// arrive within the publisher's ack timeout.
	ErrAckTimeout = errors.New("natsjs: publish ack timeout")
)

// PartitionError is returned by Source.Read and Source.Next when a
// partition cannot be decoded. The partition is left unacked; a caller that gives up on it
// (errors.Is(err, ErrCorrupt)) can Term it, after dead-lettering it.
type PartitionError struct {
	Partition *Partition
	Err       error
}

// Error describes the partition and the decode error.
func (e *PartitionError) Error() string {
	// Err names the partition id already.
	return fmt.Sprintf("natsjs: stream seq %d, delivery %d: %v", e.Partition.StreamSeq(), e.Partition.Delivered(), e.Err)
}

// Unwrap returns the decode error.
func (e *PartitionError) Unwrap() error { return e.Err }
