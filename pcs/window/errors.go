package window

import "errors"

// Sentinel errors. Every error this package returns wraps one of these, so
// callers test with errors.Is. Messages name the column or field at fault.
var (
	// ErrSpec: an invalid Spec (non-positive size, slide larger than size,
	// a duration that is not a whole number of milliseconds, no aggregate,
	// a duplicate output name), or a string that ParseAgg, ParseAssigner or
	// ParseDuration cannot read.
	ErrSpec = errors.New("window: invalid spec")
	// ErrUnknownColumn: a time, key or aggregate column that the input
	// schema lacks.
	ErrUnknownColumn = errors.New("window: unknown column")
	// ErrType: a column whose Arrow type the role cannot take (a float key,
	// sum over strings, an event-time column that is not a timestamp,
	// integer or, with Format "rfc3339", string).
	ErrType = errors.New("window: unsupported column type")
	// ErrSchema: a RecordBatch given to Process, Partials, MergePartials or
	// ShardOf whose schema differs from the one the Operator was built for.
	ErrSchema = errors.New("window: schema mismatch")
	// ErrEventTime: an event-time string that is not RFC 3339.
	ErrEventTime = errors.New("window: bad event time")
	// ErrSnapshot: bytes given to Restore that are not a snapshot of this
	// package, of an unknown version, or of an operator with another spec.
	ErrSnapshot = errors.New("window: invalid snapshot")
)
