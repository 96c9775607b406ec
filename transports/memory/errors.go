package memory

import "errors"

var (
	// ErrClosed is returned by Source.Read after Source.Close and by
	// Sink.Write and Sink.Flush after Sink.Close.
	ErrClosed = errors.New("memory: closed")

	// ErrNoSchema is returned by NewSource when it is given neither
	// batches nor a schema (WithSchema), so the schema is unknown.
	ErrNoSchema = errors.New("memory: no schema")
)

// Batches of another schema than the one a Source or Sink is bound to are
// reported with transports.ErrSchemaMismatch (wrapped).
