package csv

import (
	"context"
	stdcsv "encoding/csv"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/outfile"
	"github.com/pcs-dev/pcs/transports/internal/plain"
)

// Sink writes batches of one schema to a CSV file, with arrow-go's CSV
// writer. It implements transports.Sink.
//
// Write, Flush and Close are called from one goroutine at a time.
type Sink struct {
	path   string
	schema *arrow.Schema
	plain  *arrow.Schema // schema with dictionaries decoded: what the file holds
	mem    memory.Allocator
	state  outfile.State // file, sticky failure, closed flag
	w      *arrowcsv.Writer
}

var _ transports.Sink = (*Sink)(nil)

// NewSink creates the file at path (replacing an existing one; with
// WithAtomicRename a temporary file, renamed to path by Close) and
// writes the header, the column names of schema (unless WithHeader
// false). A sink that receives no rows leaves a file with the header
// only.
//
// Values are written as the Source reads them: nulls as empty cells;
// floats in the shortest form that reads back exactly ('g' format, "+Inf",
// "-Inf", "NaN"); booleans as true/false; dates as "2006-01-02";
// timestamps as "2006-01-02 15:04:05.999999999", with the offset of the
// type's time zone ("+09:00", "Z") when it has one, and as the raw
// integer outside years 0-9999; binary types in base64 (standard
// alphabet, padded); decimals in plain notation with the type's scale;
// dictionary-encoded columns as their values.
// Fields with the delimiter, quotes, newlines or a leading space are
// quoted. An empty string is written as an empty cell, like a null, and
// reads back as null.
//
// Errors: ErrInvalidOption; ErrUnsupportedType for a column that CSV
// cannot hold (see WithSchema for the supported types); the file cannot
// be created or written (wrapped os error).
func NewSink(path string, schema *arrow.Schema, opts ...SinkOption) (*Sink, error) {
	if schema == nil {
		return nil, fmt.Errorf("%w: nil schema", ErrInvalidOption)
	}
	cfg := defaultSinkConfig()
	if err := fileopt.ApplySink(&cfg, opts); err != nil {
		return nil, err
	}
	if err := checkSupported(plain.Schema(schema)); err != nil {
		return nil, err
	}
	state, err := outfile.CreateState(path, cfg.Atomic, schema, "csv", ErrClosed)
	if err != nil {
		return nil, err
	}
	s := &Sink{path: path, schema: schema, plain: plain.Schema(schema), mem: cfg.Mem, state: state}
	w := s.state.File().Writer()
	if schema.NumFields() == 1 {
		w = &emptyLineGuard{w: w, lineStart: true}
	}
	if cfg.header {
		hw := stdcsv.NewWriter(w)
		hw.Comma = cfg.comma
		names := make([]string, schema.NumFields())
		for i, fd := range schema.Fields() {
			names[i] = fd.Name
		}
		// An empty record would be an empty line, which readers skip.
		if len(names) > 0 {
			_ = hw.Write(names)
		}
		hw.Flush()
		if err := hw.Error(); err != nil {
			_ = s.state.File().Abandon()
			return nil, fmt.Errorf("csv: write %s: %w", path, err)
		}
	}
	s.w = arrowcsv.NewWriter(w, s.plain,
		arrowcsv.WithHeader(false),
		arrowcsv.WithComma(cfg.comma),
		arrowcsv.WithNullWriter(""),
	)
	return s, nil
}

// Write formats rec's rows into the file's buffer. It keeps no reference
// to rec. A batch with zero rows is checked and otherwise ignored.
//
// Errors: transports.ErrSchemaMismatch (wrapped, showing both schemas)
// when rec's schema differs from the sink's (arrow.Schema.Equal); ctx's
// error when ctx is done before the call (nothing is written then); a
// formatting or I/O error, after which the sink is failed and every
// later call returns that error; ErrClosed after Close. A schema
// mismatch or a ctx error leaves the sink usable.
func (s *Sink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	rec, err := s.state.BeginPlain(ctx, rec, s.plain, s.mem)
	if rec == nil {
		return err
	}
	defer rec.Release()
	if err := s.w.Write(rec); err != nil {
		return s.state.Fail(err)
	}
	return nil
}

// Flush writes the buffered bytes to the file and fsyncs it: the rows
// written so far are then durable and readable.
func (s *Sink) Flush(ctx context.Context) error { return s.state.Flush(ctx) }

// Close flushes, fsyncs and closes the file, and with WithAtomicRename
// renames it to its final name. The file is complete only after Close
// returned nil.
//
// If the sink had failed, or ctx is done, Close abandons the file: it is
// closed and removed, and Close returns the failure or ctx's error.
// Close is idempotent: later calls return nil.
func (s *Sink) Close(ctx context.Context) error { return s.state.Close(ctx, nil) }

// emptyLineGuard writes CSV output of a one-column schema, replacing
// each empty line (a null or an empty string) by `""`: CSV readers skip
// empty lines, which would lose those rows. It tracks quoting, so empty
// lines inside quoted fields are kept.
type emptyLineGuard struct {
	w         io.Writer
	lineStart bool
	quoted    bool
	buf       []byte
}

func (g *emptyLineGuard) Write(p []byte) (int, error) {
	g.buf = g.buf[:0]
	for _, c := range p {
		switch {
		case c == '"':
			g.quoted = !g.quoted
		case c == '\n' && !g.quoted && g.lineStart:
			g.buf = append(g.buf, '"', '"')
		}
		g.buf = append(g.buf, c)
		g.lineStart = c == '\n' && !g.quoted
	}
	if _, err := g.w.Write(g.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
