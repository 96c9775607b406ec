// Package transports defines how record batches enter and leave PCS:
// a Source yields Arrow RecordBatches, a Sink takes them. The
// implementations live in sub-packages: natsjs (NATS JetStream subjects,
// the partition wire format), parquet, arrowfile, csv, jsonl and memory;
// transporttest is the conformance suite every one of them runs.
//
// Ownership follows arrow-go: a RecordBatch returned by Source.Read belongs
// to the caller, who releases it; Sink.Write does not take over the batch
// it is given (it retains what it keeps), so the caller releases it too.
package transports

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// Source yields record batches, like an io.Reader yields bytes.
//
// Read is called from one goroutine at a time. It returns the next batch
// (owned by the caller, who must Release it) or io.EOF after the last
// one. ctx bounds that one call. A Source of a stream that never ends (a
// subject followed with --follow) blocks in Read until data arrives or ctx
// is done.
type Source interface {
	// Schema returns the schema of every batch when it is known before the
	// first Read (files), or nil (subjects, where each partition carries
	// its own).
	Schema() *arrow.Schema
	Read(ctx context.Context) (arrow.RecordBatch, error)
	// Close releases the source's resources. Batches already returned stay
	// valid.
	Close() error
}

// Acker is implemented by sources with delivery semantics (a JetStream
// consumer): Ack confirms that every batch Read so far has been processed
// and may not be delivered again. Batches not acked are redelivered after
// a restart (at-least-once). Call it after the batches are durably
// written somewhere else.
type Acker interface {
	Ack(ctx context.Context) error
}

// Sink accepts record batches.
//
// Write is called from one goroutine at a time; it does not keep rec
// beyond the call unless it retains it, and the caller still releases
// rec. A Sink may buffer: Flush makes everything written so far durable
// (a file's row group written, publish acks received) and reports the
// first failure. Close flushes and then releases the sink's resources;
// a file is complete only after Close returned nil.
type Sink interface {
	Write(ctx context.Context, rec arrow.RecordBatch) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// ErrSchemaMismatch is returned (wrapped) when a batch's schema differs
// from the schema a source or sink is bound to.
var ErrSchemaMismatch = errors.New("transports: schema mismatch")

// Each reads every batch of src until io.EOF and calls fn with it, then
// releases it: fn borrows the batch for the call and must Retain it to
// keep it longer. It stops at the first error of Read or of fn and
// returns it as it is (a source's errors name their file or subject),
// and returns nil at io.EOF. It does not close src, nor ack it.
func Each(ctx context.Context, src Source, fn func(rec arrow.RecordBatch) error) error {
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		err = fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
}

// CopyStats counts what Copy moved.
type CopyStats struct {
	Batches int64
	Rows    int64
}

// Copy reads every batch of src and writes it to dst until io.EOF, then
// flushes dst and, if src is an Acker, acks it. It does not close either
// side. progress, if not nil, is called after each batch with the running
// totals. Errors are wrapped with the side that failed.
func Copy(ctx context.Context, dst Sink, src Source, progress func(CopyStats)) (CopyStats, error) {
	var st CopyStats
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("transports: copy: read: %w", err)
		}
		err = dst.Write(ctx, rec)
		rows := rec.NumRows()
		rec.Release()
		if err != nil {
			return st, fmt.Errorf("transports: copy: write: %w", err)
		}
		st.Batches++
		st.Rows += rows
		if progress != nil {
			progress(st)
		}
	}
	if err := dst.Flush(ctx); err != nil {
		return st, fmt.Errorf("transports: copy: flush: %w", err)
	}
	if a, ok := src.(Acker); ok {
		if err := a.Ack(ctx); err != nil {
			return st, fmt.Errorf("transports: copy: ack: %w", err)
		}
	}
	return st, nil
}
