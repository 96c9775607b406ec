package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports"
)

// Sink collects the batches written to it, retained, in order. It
// implements transports.Sink. Batches with zero rows are checked and
// otherwise ignored.
type Sink struct {
	mu      sync.Mutex
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	rows    int64
	closed  bool
}

var _ transports.Sink = (*Sink)(nil)

// NewSink returns a Sink bound to schema. A nil schema binds the sink to
// the schema of the first batch written.
func NewSink(schema *arrow.Schema) *Sink { return &Sink{schema: schema} }

// Schema returns the schema the sink is bound to (nil for a sink created
// with a nil schema before its first Write).
func (s *Sink) Schema() *arrow.Schema {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.schema
}

// Write retains rec and appends it to the collected batches; the caller
// keeps and releases its own reference.
//
// Errors: rec's schema differs from the sink's (arrow.Schema.Equal),
// wrapping transports.ErrSchemaMismatch; ctx's error when ctx is done;
// ErrClosed after Close. Nothing is kept when Write fails, and the sink
// stays usable.
func (s *Sink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.schema != nil && !rec.Schema().Equal(s.schema) {
		return fmt.Errorf("memory: write: %w\nbatch schema:\n%s\nsink schema:\n%s",
			transports.ErrSchemaMismatch, rec.Schema(), s.schema)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.schema == nil {
		s.schema = rec.Schema()
	}
	if rec.NumRows() == 0 {
		return nil
	}
	rec.Retain()
	s.batches = append(s.batches, rec)
	s.rows += rec.NumRows()
	return nil
}

// Flush returns ctx's error if ctx is done, ErrClosed after Close, and
// nil otherwise: a memory sink has nothing to make durable.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return ctx.Err()
}

// Close stops the sink accepting batches; what was written stays
// available through Batches until Release. Close is idempotent and
// returns nil.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Batches returns the batches written so far, in order, each retained for
// the caller, who releases them.
func (s *Sink) Batches() []arrow.RecordBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]arrow.RecordBatch, len(s.batches))
	for i, b := range s.batches {
		b.Retain()
		out[i] = b
	}
	return out
}

// Rows returns the number of rows written so far.
func (s *Sink) Rows() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows
}

// Source returns a Source over the batches written so far (see
// NewSource; it retains them), bound to the sink's schema.
func (s *Sink) Source() (*Source, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema == nil {
		return nil, ErrNoSchema
	}
	return NewSource(s.batches, WithSchema(s.schema))
}

// Release drops the sink's references to the batches written and forgets
// them (Rows goes back to 0). Batches handed out by Batches, and Sources
// made by Source, stay valid. The sink stays open or closed as it was.
func (s *Sink) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		b.Release()
	}
	s.batches, s.rows = nil, 0
}
