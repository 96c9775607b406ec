package arrowfile

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/outfile"
)

// ipcWriter is what ipc.Writer and ipc.FileWriter have in common.
type ipcWriter interface {
	Write(rec arrow.RecordBatch) error
	Close() error
}

// Sink writes batches of one schema to an Arrow IPC file or stream. It
// implements transports.Sink.
//
// Write, Flush and Close are called from one goroutine at a time.
type Sink struct {
	path   string
	schema *arrow.Schema
	format Format
	state  outfile.State // file, sticky failure, closed flag
	w      ipcWriter
	// dict, for the file format with dictionary columns, unifies their
	// dictionaries; batches go to it, and to w only at Close.
	dict *dictSpool
	fw   *ipc.FileWriter
}

var _ transports.Sink = (*Sink)(nil)

// NewSink creates the file at path (replacing an existing one; with
// WithAtomicRename a temporary file, renamed to path by Close) and
// returns a sink bound to schema.
//
// For the file format, dictionary-encoded columns are unified across
// batches (see the package doc): batches are spooled to a hidden
// temporary file next to path until Close.
//
// Errors: ErrInvalidOption; the file cannot be created (wrapped os
// error).
func NewSink(path string, schema *arrow.Schema, opts ...SinkOption) (*Sink, error) {
	if schema == nil {
		return nil, fmt.Errorf("%w: nil schema", ErrInvalidOption)
	}
	cfg := sinkConfig{SinkBase: fileopt.NewSinkBase(), format: FormatFile, codec: CodecNone}
	if err := fileopt.ApplySink(&cfg, opts); err != nil {
		return nil, err
	}
	codecOpts, err := cfg.codec.ipcOptions()
	if err != nil {
		return nil, err
	}
	state, err := outfile.CreateState(path, cfg.Atomic, schema, "arrowfile", ErrClosed)
	if err != nil {
		return nil, err
	}
	s := &Sink{path: path, schema: schema, format: cfg.format, state: state}
	out := state.File()
	ipcOpts := append([]ipc.Option{ipc.WithSchema(schema), ipc.WithAllocator(cfg.Mem)}, codecOpts...)
	if cfg.format == FormatStream {
		s.w = ipc.NewWriter(out.Writer(), ipcOpts...)
	} else {
		fw, err := ipc.NewFileWriter(out.Writer(), ipcOpts...)
		if err != nil {
			_ = out.Abandon()
			return nil, fmt.Errorf("arrowfile: create %s: %w", path, err)
		}
		s.w, s.fw = fw, fw
		if needsUnify(schema) {
			if s.dict, err = newDictSpool(path, schema, cfg.Mem); err != nil {
				_ = fw.Close()
				_ = out.Abandon()
				return nil, fmt.Errorf("arrowfile: %w", err)
			}
		}
	}
	return s, nil
}

// Write encodes rec (compressing it if configured) into the file's
// buffer. It keeps no reference to rec. A batch with zero rows is
// checked and otherwise ignored.
//
// Errors: transports.ErrSchemaMismatch (wrapped, showing both schemas)
// when rec's schema differs from the sink's (arrow.Schema.Equal); ctx's
// error when ctx is done before the call; an encoding or I/O error, or
// (file format) a dictionary column whose unified dictionary outgrows
// its index type, after which the sink is failed and every later call
// returns that error; ErrClosed after Close. A schema mismatch or ctx
// error leaves the sink usable.
func (s *Sink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if write, err := s.state.Begin(ctx, rec); !write {
		return err
	}
	write := s.w.Write
	if s.dict != nil {
		write = s.dict.write
	}
	if err := write(rec); err != nil {
		return s.state.Fail(err)
	}
	return nil
}

// Flush writes the buffered bytes to the file and fsyncs it. For the
// stream format everything written so far is then durable and readable
// (a reader treats the end of the file as the end of the stream); the
// file format is readable only after Close wrote its footer.
func (s *Sink) Flush(ctx context.Context) error { return s.state.Flush(ctx) }

// Close writes the end of the data (the footer, or the end-of-stream
// marker), fsyncs and closes the file, and with WithAtomicRename renames
// it to its final name. The file is complete only after Close returned
// nil.
//
// If the sink had failed, or ctx is done, Close abandons the file: it is
// closed and removed, and Close returns the failure or ctx's error.
// Close is idempotent: later calls return nil.
func (s *Sink) Close(ctx context.Context) error {
	return s.state.Close(ctx, func(failed bool) error {
		if s.dict != nil {
			defer s.dict.close()
			if !failed {
				if err := s.dict.finish(ctx, s.fw); err != nil {
					_ = s.w.Close()
					return err
				}
			}
		}
		return s.w.Close()
	})
}
