package outfile

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/plain"
)

// State is what the csv, jsonl and arrowfile sinks share around their
// format-specific encoding: the output File, the schema the sink is bound
// to, a sticky failure and the closed flag, and the Write/Flush/Close
// rules of transports.Sink built on them. A sink embeds it as a field and
// delegates; it is used from one goroutine at a time.
type State struct {
	out       *File
	schema    *arrow.Schema
	prefix    string // error prefix, "csv"
	errClosed error  // the package's ErrClosed
	err       error  // first failure; sticky
	closed    bool
}

// NewState returns the state of a sink named prefix (its error prefix)
// writing batches of schema to out; errClosed is returned after Close.
func NewState(out *File, schema *arrow.Schema, prefix string, errClosed error) State {
	return State{out: out, schema: schema, prefix: prefix, errClosed: errClosed}
}

// CreateState creates the output file at path (Create, atomic or not)
// and returns the state of a sink named prefix writing batches of schema
// to it; errClosed is returned after Close. Errors read "<prefix>:
// create <path>: <cause>".
func CreateState(path string, atomic bool, schema *arrow.Schema, prefix string, errClosed error) (State, error) {
	out, err := Create(path, atomic)
	if err != nil {
		return State{}, fmt.Errorf("%s: %w", prefix, err)
	}
	return NewState(out, schema, prefix, errClosed), nil
}

// File returns the output file.
func (s *State) File() *File { return s.out }

// Begin runs the checks that open every Write: errClosed after Close, the
// sticky failure, transports.ErrSchemaMismatch (wrapped, showing both
// schemas) when rec's schema differs (arrow.Schema.Equal), ctx's error.
// A schema mismatch or ctx error leaves the sink usable. write is false
// for a batch with no rows, which needs no encoding.
func (s *State) Begin(ctx context.Context, rec arrow.RecordBatch) (write bool, err error) {
	if err := s.usable(); err != nil {
		return false, err
	}
	if !rec.Schema().Equal(s.schema) {
		return false, fmt.Errorf("%s: write %s: %w\nbatch schema:\n%s\nsink schema:\n%s",
			s.prefix, s.out.Path(), transports.ErrSchemaMismatch, rec.Schema(), s.schema)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return rec.NumRows() > 0, nil
}

// BeginPlain is Begin for the sinks of formats without dictionaries
// (csv, jsonl): it returns rec with each dictionary column decoded into
// its values (plain.Record over plainSchema, plain.Schema of the sink's
// schema, allocated from mem), or nil when there is nothing to write,
// with Begin's error (nil for a batch with no rows). The caller releases
// the batch returned. A failure to decode is the sink's failure.
func (s *State) BeginPlain(ctx context.Context, rec arrow.RecordBatch, plainSchema *arrow.Schema, mem memory.Allocator) (arrow.RecordBatch, error) {
	if write, err := s.Begin(ctx, rec); !write {
		return nil, err
	}
	out, err := plain.Record(ctx, mem, rec, plainSchema)
	if err != nil {
		return nil, s.Fail(err)
	}
	return out, nil
}

// Fail records err (wrapped as "<prefix>: write <path>: err") as the
// sink's sticky failure and returns it.
func (s *State) Fail(err error) error {
	s.err = fmt.Errorf("%s: write %s: %w", s.prefix, s.out.Path(), err)
	return s.err
}

// Flush writes the buffered bytes to the file and fsyncs it; a failure
// is sticky.
func (s *State) Flush(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.out.Flush(); err != nil {
		s.err = fmt.Errorf("%s: %w", s.prefix, err)
		return s.err
	}
	return nil
}

// Close finishes the file: finish (if not nil) writes the end of the
// format's data and releases the encoder; it is called with failed set
// when the sink had failed or ctx is done, and its error then ignored.
// A healthy sink is then committed (fsync, close, atomic rename); a
// failed one is abandoned (closed and removed) and Close returns the
// failure or ctx's error. Later calls return nil.
func (s *State) Close(ctx context.Context, finish func(failed bool) error) error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.err
	if err == nil {
		err = ctx.Err()
	}
	if finish != nil {
		if ferr := finish(err != nil); err == nil && ferr != nil {
			err = fmt.Errorf("%s: finish %s: %w", s.prefix, s.out.Path(), ferr)
		}
	}
	if err != nil {
		_ = s.out.Abandon()
		return err
	}
	if err := s.out.Commit(); err != nil {
		return fmt.Errorf("%s: %w", s.prefix, err)
	}
	return nil
}

func (s *State) usable() error {
	if s.closed {
		return s.errClosed
	}
	return s.err
}
