package pcs

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error PCS returns wraps one of these (or a typed
// error below), so callers test with errors.Is / errors.As.
var (
	// ErrUnknownComponent: a component name that is not registered.
	ErrUnknownComponent = errors.New("pcs: unknown component")
	// ErrUnknownField: a field name that the component's schema lacks.
	ErrUnknownField = errors.New("pcs: unknown field")
	// ErrFieldType: a field accessed as an Arrow array type it does not have.
	ErrFieldType = errors.New("pcs: wrong field type")
	// ErrSchemaMismatch: a RecordBatch, column or component whose schema
	// differs from the registered one.
	ErrSchemaMismatch = errors.New("pcs: schema mismatch")
	// ErrRowCount: a batch or column whose length differs from the dataset's.
	ErrRowCount = errors.New("pcs: row count mismatch")
	// ErrUndeclaredAccess: a system read or wrote a field, component or
	// resource that its SystemMeta does not declare. Never retried.
	ErrUndeclaredAccess = errors.New("pcs: undeclared access")
	// ErrNoResource: a resource type that is not in the dataset (for
	// instance inserted as *T and read as T). A programming error: never
	// retried.
	ErrNoResource = errors.New("pcs: no such resource")
	// ErrBuild: an invalid pipeline or scheduler definition.
	ErrBuild = errors.New("pcs: invalid definition")
	// ErrIPC: a buffer that is not a PCS dataset in Arrow IPC file format.
	ErrIPC = errors.New("pcs: invalid dataset IPC")
)

// PermanentError marks an error that retrying cannot fix (bad input, a
// programming error). The pipeline does not retry it; pcs-node sends the
// partition to the dead-letter subject. Create one with [Permanent].
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that retries stop at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is marked permanent ([Permanent]) or is
// a programming error that no retry can fix: an undeclared access
// ([ErrUndeclaredAccess]) or a missing resource ([ErrNoResource]; a
// system's failed attempt leaves no resource behind, so a retry would
// find none either).
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p) || errors.Is(err, ErrUndeclaredAccess) || errors.Is(err, ErrNoResource)
}

// SystemError is returned by Pipeline.Run when a system fails: after its
// retries are exhausted, at once for a permanent error, or on ctx
// cancellation. Attempts counts runs of the system (1 + retries).
type SystemError struct {
	Pipeline string
	System   string
	Stage    int
	Attempts int
	Err      error // the last cause
}

func (e *SystemError) Error() string {
	return fmt.Sprintf("pcs: pipeline %q: system %q (stage %d) failed after %d attempt(s): %v",
		e.Pipeline, e.System, e.Stage, e.Attempts, e.Err)
}
func (e *SystemError) Unwrap() error { return e.Err }

// AccessError is an undeclared access at run time. It wraps
// ErrUndeclaredAccess.
type AccessError struct {
	System string
	Op     string // "read", "write", "delete"
	What   string // "component.field", "component.*" or "resource T"
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("pcs: system %q: undeclared %s of %s (declare it in SystemMeta)", e.System, e.Op, e.What)
}
func (e *AccessError) Unwrap() error { return ErrUndeclaredAccess }

func fieldNames(fs []string) string { return strings.Join(fs, ", ") }
