// Package fileopt is the functional-option plumbing the file transports
// (csv, jsonl, parquet, arrowfile) share: the option types behind each
// package's SourceOption, SinkOption and Option, applying them, and the
// settings several packages have (allocator, batch rows, atomic rename;
// for the text formats, the schema or the rows to infer it from).
//
// A package defines its configs with the shared settings embedded,
//
//	type sourceConfig struct {
//		fileopt.SourceBase // Mem, BatchRows
//		comma rune
//	}
//
// its public option types as interfaces embedding these ones,
//
//	type SourceOption interface{ fileopt.Source[sourceConfig] }
//
// and its option functions with SourceFunc, SinkFunc and BothFuncs (or
// the shared ones: Allocator, SourceAllocator, BatchRows, Schema,
// InferRows, AtomicRename),
// passing its own ErrInvalidOption so that errors keep its prefix.
// Options are checked when applied (NewSource, NewSink), not when built.
package fileopt

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Source is an option of a source config S.
type Source[S any] interface{ applySource(*S) error }

// Sink is an option of a sink config K.
type Sink[K any] interface{ applySink(*K) error }

// Both is an option of a source config S and of a sink config K.
type Both[S, K any] interface {
	Source[S]
	Sink[K]
}

type sourceFunc[S any] func(*S) error

func (f sourceFunc[S]) applySource(c *S) error { return f(c) }

type sinkFunc[K any] func(*K) error

func (f sinkFunc[K]) applySink(c *K) error { return f(c) }

type bothFuncs[S, K any] struct {
	src  func(*S) error
	sink func(*K) error
}

func (b bothFuncs[S, K]) applySource(c *S) error { return b.src(c) }
func (b bothFuncs[S, K]) applySink(c *K) error   { return b.sink(c) }

// SourceFunc returns the source option that calls f.
func SourceFunc[S any](f func(*S) error) Source[S] { return sourceFunc[S](f) }

// SinkFunc returns the sink option that calls f.
func SinkFunc[K any](f func(*K) error) Sink[K] { return sinkFunc[K](f) }

// BothFuncs returns the option that calls src on a source config and
// sink on a sink config.
func BothFuncs[S, K any](src func(*S) error, sink func(*K) error) Both[S, K] {
	return bothFuncs[S, K]{src, sink}
}

// ApplySource applies opts to c in order and returns the first error.
func ApplySource[S any, O Source[S]](c *S, opts []O) error {
	for _, o := range opts {
		if err := o.applySource(c); err != nil {
			return err
		}
	}
	return nil
}

// ApplySink applies opts to c in order and returns the first error.
func ApplySink[K any, O Sink[K]](c *K, opts []O) error {
	for _, o := range opts {
		if err := o.applySink(c); err != nil {
			return err
		}
	}
	return nil
}

// SourceBase holds what every file source is configured with; a
// package's source config embeds it.
type SourceBase struct {
	// Mem allocates the batches the source builds.
	Mem memory.Allocator
	// BatchRows is the most rows of a batch (for the formats that choose).
	BatchRows int64
}

// NewSourceBase returns a SourceBase with the default allocator and
// batchRows.
func NewSourceBase(batchRows int64) SourceBase {
	return SourceBase{Mem: memory.DefaultAllocator, BatchRows: batchRows}
}

// SinkBase holds what every file sink is configured with; a package's
// sink config embeds it.
type SinkBase struct {
	// Mem allocates the buffers the sink encodes with.
	Mem memory.Allocator
	// Atomic makes the sink write a temporary file renamed into place by
	// Close (outfile.Create).
	Atomic bool
}

// NewSinkBase returns a SinkBase with the default allocator, writing in
// place.
func NewSinkBase() SinkBase { return SinkBase{Mem: memory.DefaultAllocator} }

// TextSourceBase holds what the sources of text formats (csv, jsonl)
// add: the schema is given, or inferred from the first rows.
type TextSourceBase struct {
	// Schema, when not nil, is the schema of the file: no inference.
	Schema *arrow.Schema
	// InferRows is how many rows the inference reads; -1 all.
	InferRows int
	// MaxLineBytes is the longest line (CSV: record) the source reads;
	// a longer one is an error (transports.ErrLineTooLong).
	MaxLineBytes int64
}

// DefaultMaxLineBytes is the longest line a text source reads unless
// told otherwise (64 MiB): far above any sane row, far below what would
// exhaust a machine's memory.
const DefaultMaxLineBytes = 64 << 20

// NewTextSourceBase returns a TextSourceBase inferring from inferRows
// rows, with the default line limit.
func NewTextSourceBase(inferRows int) TextSourceBase {
	return TextSourceBase{InferRows: inferRows, MaxLineBytes: DefaultMaxLineBytes}
}

func (b *SourceBase) sourceBase() *SourceBase       { return b }
func (b *SinkBase) sinkBase() *SinkBase             { return b }
func (b *TextSourceBase) textBase() *TextSourceBase { return b }

// sourceConfig is a config that embeds SourceBase; sinkConfig, SinkBase;
// textConfig, TextSourceBase.
type (
	sourceConfig interface{ sourceBase() *SourceBase }
	sinkConfig   interface{ sinkBase() *SinkBase }
	textConfig   interface{ textBase() *TextSourceBase }
)

// Allocator returns the option setting the allocator of a source and of
// a sink; nil is invalid (an error wrapping invalid, the package's
// ErrInvalidOption).
func Allocator[S, K any, PS interface {
	*S
	sourceConfig
}, PK interface {
	*K
	sinkConfig
}](invalid error, mem memory.Allocator) Both[S, K] {
	return BothFuncs(
		func(c *S) error { return setAllocator(&PS(c).sourceBase().Mem, mem, invalid) },
		func(c *K) error { return setAllocator(&PK(c).sinkBase().Mem, mem, invalid) },
	)
}

// SourceAllocator is Allocator for a package whose sinks take none.
func SourceAllocator[S any, PS interface {
	*S
	sourceConfig
}](invalid error, mem memory.Allocator) Source[S] {
	return SourceFunc(func(c *S) error { return setAllocator(&PS(c).sourceBase().Mem, mem, invalid) })
}

func setAllocator(dst *memory.Allocator, mem memory.Allocator, invalid error) error {
	if mem == nil {
		return fmt.Errorf("%w: nil allocator", invalid)
	}
	*dst = mem
	return nil
}

// BatchRows returns the option setting the most rows of a batch a
// source yields; n must be > 0 (an error wrapping invalid otherwise).
func BatchRows[S any, PS interface {
	*S
	sourceConfig
}](invalid error, n int64) Source[S] {
	return SourceFunc(func(c *S) error {
		if n <= 0 {
			return fmt.Errorf("%w: batch rows must be > 0, got %d", invalid, n)
		}
		PS(c).sourceBase().BatchRows = n
		return nil
	})
}

// Schema returns the option giving a text source the schema of its file
// (no inference); nil is invalid (an error wrapping invalid).
func Schema[S any, PS interface {
	*S
	textConfig
}](invalid error, schema *arrow.Schema) Source[S] {
	return SourceFunc(func(c *S) error {
		if schema == nil {
			return fmt.Errorf("%w: nil schema", invalid)
		}
		PS(c).textBase().Schema = schema
		return nil
	})
}

// InferRows returns the option setting how many rows a text source
// infers its schema from: n > 0, or -1 for all (an error wrapping
// invalid otherwise).
func InferRows[S any, PS interface {
	*S
	textConfig
}](invalid error, n int) Source[S] {
	return SourceFunc(func(c *S) error {
		if n <= 0 && n != -1 {
			return fmt.Errorf("%w: infer rows must be > 0 or -1, got %d", invalid, n)
		}
		PS(c).textBase().InferRows = n
		return nil
	})
}

// MaxLineBytes returns the option setting the longest line (for CSV,
// record) a text source reads: n > 0 (an error wrapping invalid
// otherwise).
func MaxLineBytes[S any, PS interface {
	*S
	textConfig
}](invalid error, n int64) Source[S] {
	return SourceFunc(func(c *S) error {
		if n <= 0 {
			return fmt.Errorf("%w: max line bytes must be > 0, got %d", invalid, n)
		}
		PS(c).textBase().MaxLineBytes = n
		return nil
	})
}

// AtomicRename returns the option that makes a sink write a temporary
// file and rename it into place on a successful Close.
func AtomicRename[K any, PK interface {
	*K
	sinkConfig
}](on bool) Sink[K] {
	return SinkFunc(func(c *K) error {
		PK(c).sinkBase().Atomic = on
		return nil
	})
}
