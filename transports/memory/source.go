package memory

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports"
)

// Source yields a fixed list of record batches, in order. It implements
// transports.Source.
type Source struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch // retained; nil after Close
	next    int
	closed  bool
}

var _ transports.Source = (*Source)(nil)

// SourceOption configures NewSource.
type SourceOption func(*sourceConfig) error

type sourceConfig struct {
	schema    *arrow.Schema
	skipEmpty bool
}

// WithSchema binds the source to schema. It is required when no batch is
// given (an empty source still has a schema); otherwise it is checked
// against the batches. Default: the schema of the first batch.
func WithSchema(schema *arrow.Schema) SourceOption {
	return func(c *sourceConfig) error { c.schema = schema; return nil }
}

// WithSkipEmpty makes Read skip batches with zero rows (default false:
// every batch given is returned).
func WithSkipEmpty(on bool) SourceOption {
	return func(c *sourceConfig) error { c.skipEmpty = on; return nil }
}

// NewSource returns a Source over batches, which it retains (the caller
// keeps and releases its own references). Every batch must have the
// source's schema (arrow.Schema.Equal).
//
// Errors: ErrNoSchema when there is no batch and no WithSchema; a batch
// with another schema, wrapping transports.ErrSchemaMismatch. Nothing is
// retained when NewSource fails.
func NewSource(batches []arrow.RecordBatch, opts ...SourceOption) (*Source, error) {
	var cfg sourceConfig
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	schema := cfg.schema
	if schema == nil {
		if len(batches) == 0 {
			return nil, ErrNoSchema
		}
		schema = batches[0].Schema()
	}
	kept := make([]arrow.RecordBatch, 0, len(batches))
	for i, b := range batches {
		if !b.Schema().Equal(schema) {
			return nil, fmt.Errorf("memory: batch %d: %w\nbatch schema:\n%s\nsource schema:\n%s",
				i, transports.ErrSchemaMismatch, b.Schema(), schema)
		}
		if cfg.skipEmpty && b.NumRows() == 0 {
			continue
		}
		kept = append(kept, b)
	}
	for _, b := range kept {
		b.Retain()
	}
	return &Source{schema: schema, batches: kept}, nil
}

// Schema returns the schema of every batch.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Len returns the number of batches not yet read.
func (s *Source) Len() int { return len(s.batches) - s.next }

// Read returns the next batch, retained for the caller, who releases it;
// after the last one it returns io.EOF, and keeps doing so.
//
// Errors: ctx's error when ctx is done (no batch is consumed then);
// ErrClosed after Close.
func (s *Source) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.next >= len(s.batches) {
		return nil, io.EOF
	}
	b := s.batches[s.next]
	s.next++
	b.Retain()
	return b, nil
}

// Close releases the source's references to its batches. Batches already
// returned by Read stay valid. Close is idempotent.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	for _, b := range s.batches {
		b.Release()
	}
	s.batches = nil
	return nil
}
